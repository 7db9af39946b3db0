package ui

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/protocol"
)

// apiError is a refusal in words: the reply's status, a stable code (for MS-WFIM refusals the
// fault's subcode, e.g. InstanceSuspended or AccessDenied) and a message for people.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func badRequest(msg string) *apiError {
	return &apiError{http.StatusBadRequest, "BadRequest", msg}
}

// errorReply is the JSON body of every refusal.
type errorReply struct {
	Error struct {
		Status  int    `json:"status"`
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// writeError answers with err in words. An error that is no refusal (a bug, an unreadable
// store row) is logged and answered 500 without its text.
func writeError(w http.ResponseWriter, log *slog.Logger, err error) {
	e := asAPIError(err)
	if e == nil {
		if log != nil {
			log.Error("dashboard request failed", "err", err)
		}
		e = &apiError{http.StatusInternalServerError, "InternalError", "the server could not complete the request (its log says why)"}
	}
	var body errorReply
	body.Error.Status, body.Error.Code, body.Error.Message = e.Status, e.Code, e.Message
	_ = writeJSON(w, nil, e.Status, body)
}

// asAPIError turns the host's refusals into their status and words: the MS-WFIM ones with the
// contract's fault subcode and reason (the same text a SOAP client gets, e.g. WCF's "Access is
// denied."), the others with the host's own description. Nil for an error that is none of them.
func asAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var he *host.Error
	if !errors.As(err, &he) {
		return nil
	}
	if f, ok := protocol.InstanceFault(err); ok {
		status := http.StatusConflict
		switch {
		case errors.Is(err, host.ErrAccessDenied):
			status = http.StatusForbidden
		case errors.Is(err, host.ErrNotFound):
			status = http.StatusNotFound
		case errors.Is(err, host.ErrUnavailable), errors.Is(err, host.ErrOutcomeUnknown):
			status = http.StatusServiceUnavailable
		}
		return &apiError{status, protocol.Bulk{}.Outcome(err), f.Reason}
	}
	switch {
	case errors.Is(err, host.ErrUpdateRefused):
		return &apiError{http.StatusConflict, "UpdateFailed", protocol.Fault(err).Error()}
	case errors.Is(err, host.ErrBookmarkNotFound):
		return &apiError{http.StatusConflict, "BookmarkNotFound", he.Error()}
	case errors.Is(err, host.ErrInvalidInput):
		return &apiError{http.StatusBadRequest, "InvalidInput", he.Error()}
	case errors.Is(err, host.ErrInvalidQuery):
		return &apiError{http.StatusBadRequest, "InvalidQuery", he.Error()}
	case errors.Is(err, host.ErrJobNotFound):
		return &apiError{http.StatusNotFound, "BulkOperationNotFound", he.Error()}
	case errors.Is(err, host.ErrDefinitionNotFound):
		return &apiError{http.StatusNotFound, "DefinitionNotFound", he.Error()}
	case errors.Is(err, host.ErrExists):
		return &apiError{http.StatusConflict, "InstanceExists", he.Error()}
	}
	return nil
}
