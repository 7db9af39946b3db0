package backend

import (
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/workflow"
)

// StampRecord is r as a change of instance id stores it at store time now: of that instance
// when its InstanceID is nil, at now when its Time is zero, else at its Time in UTC whole
// milliseconds.
func StampRecord(r workflow.Record, id uuid.UUID, now time.Time) workflow.Record {
	if r.InstanceID == uuid.Nil {
		r.InstanceID = id
	}
	if r.Time.IsZero() {
		r.Time = now
	} else {
		r.Time = time.UnixMilli(r.Time.UnixMilli()).UTC()
	}
	return r
}
