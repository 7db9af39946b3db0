package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/time/rate"

	"github.com/wimp-project/wimp/store"
	"github.com/wimp-project/wimp/workflow"
)

// BulkContract is how a bulk job turns its operation into each instance's command: the
// management contract's (MS-WFIM's) commands and state table, so that every instance goes
// through exactly the path, rules and faults of a single call.
type BulkContract interface {
	// Command is the contract's command op (Suspend, Unsuspend, Run, Cancel, Terminate,
	// Abandon or Update) on instance id; an error for an op the contract has not, or an Update
	// without an identity.
	Command(op string, id uuid.UUID, reason string, to *workflow.Identity) (Command, error)
	// Outcome names a refusal as the contract's fault does (its subcode, e.g.
	// InstanceNotSuspended): a bulk job counts its failures by that name.
	Outcome(err error) string
}

// Bulk job defaults and bounds.
const (
	// DefaultBulkRate is the rate (instances per second) of a job that names none: low enough
	// that a job leaves room for live traffic on a small machine (README, "Bulk operations").
	DefaultBulkRate = 100
	// bulkPage is how many instances of its selection a job reads at a time.
	bulkPage = 100
)

// OutcomeOK is the outcome of an instance the job's command succeeded on (or, in a dry run,
// would be applied to).
const OutcomeOK = "ok"

// BulkRequest describes a bulk job: apply Operation to every instance Filter selects.
type BulkRequest struct {
	Operation string             `json:"operation"`
	Filter    Filter             `json:"filter"`
	Reason    string             `json:"reason,omitempty"`   // Suspend, Terminate, Abandon
	Identity  *workflow.Identity `json:"identity,omitempty"` // Update's target
	// DryRun: decide each instance's outcome under its lock and change nothing.
	DryRun bool `json:"dryRun,omitempty"`
	// RatePerSecond bounds how many instances per second the job handles; 0 is DefaultBulkRate.
	RatePerSecond float64 `json:"ratePerSecond,omitempty"`
	// MaxInstances: the job ends after this many instances (0: no limit).
	MaxInstances int64 `json:"maxInstances,omitempty"`
}

// jobSpec is what the store keeps of a job's request (store.Job.Spec).
type jobSpec struct {
	BulkRequest
	Role      Role   `json:"role"`      // the starter's role: each instance's command is authorized with it
	Estimate  int64  `json:"estimate"`  // instances the filter selected when the job started (bounded by MaxInstances)
	RequestID string `json:"requestId"` // the X-Request-Id of the request that started it
}

// BulkJob is a bulk job and its progress.
type BulkJob struct {
	ID        uuid.UUID
	Request   BulkRequest
	Principal string
	Status    string // store.JobRunning, JobCompleted, JobCanceled or JobFailed
	// Estimate is how many instances the filter selected when the job started (at most
	// MaxInstances): the job's expected size, for progress bars.
	Estimate int64
	// Matched: instances of the selection reached so far; Done: of them, handled; OK: of them,
	// succeeded (in a dry run: would be changed).
	Matched, Done, OK int64
	Faults            map[string]int64 // the other handled instances, by outcome
	Error             string           // why a Failed job stopped
	Created, Updated  time.Time
}

// BulkItem is the outcome of a job for one instance.
type BulkItem struct {
	Seq      int64
	Instance uuid.UUID
	Outcome  string // OutcomeOK, or the contract's name for the refusal
	Detail   string
	Time     time.Time
}

// runningJobs are the jobs this host executes, by id.
type runningJobs struct {
	mu   sync.Mutex
	jobs map[uuid.UUID]*jobRun
}

type jobRun struct {
	cancel   context.CancelFunc
	done     chan struct{}
	canceled bool // CancelBulk asked (not a shutdown)
	ended    bool // its final status is being saved
}

// StartBulk stores a new bulk job and starts it. The caller needs the admin role; the job
// applies the operation with the caller's principal, one instance at a time at the job's rate.
func (h *Host) StartBulk(ctx context.Context, req BulkRequest) (*BulkJob, error) {
	const op = "StartBulkOperation"
	if err := h.Authorize(ctx, op, Admin); err != nil {
		return nil, err
	}
	if h.cfg.Bulk == nil {
		return nil, &Error{Kind: ErrInvalidInput, Operation: op, Detail: "this host has no management contract for bulk operations"}
	}
	invalid := func(why string) error { return &Error{Kind: ErrInvalidInput, Operation: op, Detail: why} }
	if _, err := h.cfg.Bulk.Command(req.Operation, uuid.Nil, req.Reason, req.Identity); err != nil {
		return nil, invalid(err.Error())
	}
	switch {
	case req.RatePerSecond < 0:
		return nil, invalid("the rate must not be negative")
	case req.MaxInstances < 0:
		return nil, invalid("the maximum number of instances must not be negative")
	}
	counts, err := h.store.CountInstances(ctx, store.Filter(req.Filter), store.GroupNone)
	if err != nil {
		return nil, h.queryError(op, err)
	}
	p := PrincipalFrom(ctx)
	spec := jobSpec{BulkRequest: req, Role: p.Role, RequestID: RequestIDFrom(ctx)}
	for _, c := range counts {
		spec.Estimate += c.N
	}
	if req.MaxInstances > 0 {
		spec.Estimate = min(spec.Estimate, req.MaxInstances)
	}
	b, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	j := &store.Job{ID: uuid.New(), Spec: b, Principal: p.String(), Status: store.JobRunning}
	if err := h.store.CreateJob(ctx, j); err != nil {
		return nil, h.unavailable(uuid.Nil, op, err)
	}
	h.log.Info("bulk job started", "job", j.ID, "operation", req.Operation, "dryRun", req.DryRun,
		"estimate", spec.Estimate, "principal", j.Principal)
	view := jobView(j, spec) // before the runner starts changing j
	h.startJob(j, spec)
	return view, nil
}

// GetBulk returns the job and up to limit of its per-instance results after seq after
// (0: from the first; limit 0: none).
func (h *Host) GetBulk(ctx context.Context, id uuid.UUID, after int64, limit int) (*BulkJob, []BulkItem, error) {
	const op = "GetBulkOperation"
	if err := h.Authorize(ctx, op, Reader); err != nil {
		return nil, nil, err
	}
	j, spec, err := h.readJob(ctx, op, id)
	if err != nil {
		return nil, nil, err
	}
	var items []BulkItem
	if limit > 0 {
		its, err := h.store.JobItems(ctx, id, after, limit)
		if err != nil {
			return nil, nil, h.unavailable(uuid.Nil, op, err)
		}
		for _, it := range its {
			items = append(items, BulkItem(it))
		}
	}
	return jobView(j, spec), items, nil
}

// CancelBulk stops a running job where it is (the instances it handled stay handled) and
// returns it; a job that has ended is returned as it is.
func (h *Host) CancelBulk(ctx context.Context, id uuid.UUID) (*BulkJob, error) {
	const op = "CancelBulkOperation"
	if err := h.Authorize(ctx, op, Admin); err != nil {
		return nil, err
	}
	h.jobs.mu.Lock()
	r := h.jobs.jobs[id]
	if r != nil {
		r.canceled = true
		r.cancel()
	}
	h.jobs.mu.Unlock()
	if r != nil {
		<-r.done // the runner records Canceled as it stops
	}
	j, spec, err := h.readJob(ctx, op, id)
	if err != nil {
		return nil, err
	}
	if j.Status == store.JobRunning {
		// Not running here (it is between a crash and this host's start): cancel it in the store.
		j.Status = store.JobCanceled
		if err := h.store.SaveJob(ctx, j, nil); err != nil {
			return nil, h.unavailable(uuid.Nil, op, err)
		}
	}
	return jobView(j, spec), nil
}

func (h *Host) readJob(ctx context.Context, op string, id uuid.UUID) (*store.Job, jobSpec, error) {
	j, err := h.store.GetJob(ctx, id)
	if errors.Is(err, store.ErrJobNotFound) {
		return nil, jobSpec{}, &Error{Kind: ErrJobNotFound, Operation: op, Detail: fmt.Sprintf("no bulk job has id %s", id)}
	}
	if err != nil {
		return nil, jobSpec{}, h.unavailable(uuid.Nil, op, err)
	}
	var spec jobSpec
	if err := json.Unmarshal(j.Spec, &spec); err != nil {
		return nil, jobSpec{}, fmt.Errorf("host: bulk job %s: unreadable spec: %w", id, err)
	}
	return j, spec, nil
}

func jobView(j *store.Job, spec jobSpec) *BulkJob {
	return &BulkJob{ID: j.ID, Request: spec.BulkRequest, Principal: j.Principal, Status: j.Status, Estimate: spec.Estimate,
		Matched: j.Matched, Done: j.Done, OK: j.OK, Faults: j.Faults, Error: j.Error, Created: j.Created, Updated: j.Updated}
}

// resumeJobs starts the jobs that were running when a process stopped.
func (h *Host) resumeJobs(ctx context.Context) error {
	jobs, err := h.store.ListJobs(ctx, store.JobRunning)
	if err != nil {
		return err
	}
	for _, j := range jobs {
		var spec jobSpec
		if err := json.Unmarshal(j.Spec, &spec); err != nil {
			h.log.Error("a bulk job cannot be resumed", "job", j.ID, "err", err)
			continue
		}
		h.log.Info("bulk job resumed", "job", j.ID, "operation", spec.Operation, "done", j.Done)
		h.startJob(j, spec)
	}
	return nil
}

// startJob runs the job in the background until it ends, is canceled, or the host closes.
func (h *Host) startJob(j *store.Job, spec jobSpec) {
	ctx, cancel := context.WithCancel(h.ctx)
	r := &jobRun{cancel: cancel, done: make(chan struct{})}
	h.jobs.mu.Lock()
	if h.jobs.jobs == nil {
		h.jobs.jobs = map[uuid.UUID]*jobRun{}
	}
	h.jobs.jobs[j.ID] = r
	h.jobs.mu.Unlock()
	finish := func() {
		h.jobs.mu.Lock()
		delete(h.jobs.jobs, j.ID)
		h.jobs.mu.Unlock()
		cancel()
		close(r.done)
	}
	if !h.goBackground(func() {
		defer finish()
		h.runJob(ctx, r, j, spec)
	}) {
		finish()
	}
}

// runJob pages through the job's selection from its cursor and applies its command to each
// instance it has no result for yet, saving each result with the job's progress (so after a
// crash at most the instance being handled is handled again).
func (h *Host) runJob(ctx context.Context, r *jobRun, j *store.Job, spec jobSpec) {
	limit := rate.Inf
	if !spec.DryRun {
		limit = rate.Limit(spec.RatePerSecond)
		if spec.RatePerSecond == 0 {
			limit = DefaultBulkRate
		}
	}
	pace := rate.NewLimiter(limit, 1)
	// The job acts as the principal that started it, with the role it had.
	actx := WithRequestID(WithPrincipal(withJob(ctx, j.ID), Principal{Name: j.Principal, Role: spec.Role}), spec.RequestID)
	save := func(items []BulkItem) error {
		its := make([]store.JobItem, len(items))
		for i, it := range items {
			its[i] = store.JobItem(it)
		}
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		return h.store.SaveJob(sctx, j, its)
	}
	stop := func(status, why string) {
		// Not counted as running once a reader can see it ended (RunningBulkJobs).
		h.jobs.mu.Lock()
		r.ended = true
		h.jobs.mu.Unlock()
		j.Status, j.Error = status, why
		if err := save(nil); err != nil {
			h.log.Error("bulk job: saving its end failed", "job", j.ID, "status", status, "err", err)
			return
		}
		h.log.Info("bulk job ended", "job", j.ID, "status", status, "matched", j.Matched, "ok", j.OK, "faults", j.Faults)
	}
	stopped := func() {
		if r.canceled {
			stop(store.JobCanceled, "")
		}
		// Otherwise the host is closing: the job stays Running and resumes at the next start.
	}
	for {
		if spec.MaxInstances > 0 && j.Matched >= spec.MaxInstances {
			stop(store.JobCompleted, "")
			return
		}
		page, err := h.store.QueryInstances(ctx, store.PageQuery{Filter: store.Filter(spec.Filter), Size: bulkPage, Token: j.Cursor})
		if err == nil {
			var done map[uuid.UUID]bool
			if done, err = h.store.JobHasItems(ctx, j.ID, ids(page.Instances)); err == nil {
				if !h.runPage(ctx, actx, pace, j, spec, page.Instances, done, save) {
					stopped()
					return
				}
				j.Cursor = page.Next
				if page.Next == "" {
					stop(store.JobCompleted, "")
					return
				}
				continue
			}
		}
		if ctx.Err() != nil {
			stopped()
			return
		}
		if errors.Is(err, store.ErrInvalidQuery) {
			stop(store.JobFailed, err.Error())
			return
		}
		// The store is unavailable for now: try again shortly.
		h.log.Warn("bulk job: reading its selection failed; retrying", "job", j.ID, "err", err)
		select {
		case <-ctx.Done():
			stopped()
			return
		case <-time.After(time.Second):
		}
	}
}

// runPage handles one page of the selection; false when the job was stopped meanwhile.
func (h *Host) runPage(ctx, actx context.Context, pace *rate.Limiter, j *store.Job, spec jobSpec,
	page []*store.Instance, done map[uuid.UUID]bool, save func([]BulkItem) error) bool {
	for _, in := range page {
		if done[in.ID] {
			continue // handled before a restart
		}
		if spec.MaxInstances > 0 && j.Matched >= spec.MaxInstances {
			return true
		}
		if err := pace.Wait(ctx); err != nil {
			return false
		}
		// Once begun, an instance's operation is not cut short by a cancel or a shutdown (which
		// would record a store failure as its outcome): the job stops between two. An instance
		// another live node holds is handed to that node (Do).
		err := h.Do(context.WithoutCancel(actx), Request{Operation: spec.Operation, Instance: in.ID,
			Reason: spec.Reason, Identity: spec.Identity, DryRun: spec.DryRun})
		item := BulkItem{Instance: in.ID, Outcome: OutcomeOK}
		if err != nil {
			item.Outcome, item.Detail = h.cfg.Bulk.Outcome(err), err.Error()
		}
		j.Matched++
		j.Done++
		if item.Outcome == OutcomeOK {
			j.OK++
		} else {
			if j.Faults == nil {
				j.Faults = map[string]int64{}
			}
			j.Faults[item.Outcome]++
		}
		h.bulkItems.inc(item.Outcome)
		for {
			err := save([]BulkItem{item})
			if err == nil {
				break
			}
			// Until the result is stored the job does not go on; if the host closes first,
			// the instance is handled again when the job resumes.
			h.log.Warn("bulk job: saving a result failed; retrying", "job", j.ID, "instance", in.ID, "err", err)
			select {
			case <-ctx.Done():
				return false
			case <-time.After(time.Second):
			}
		}
	}
	return true
}

func ids(ins []*store.Instance) []uuid.UUID {
	out := make([]uuid.UUID, len(ins))
	for i, in := range ins {
		out[i] = in.ID
	}
	return out
}

// BulkItems reports how many instances bulk jobs have handled since start, by outcome (for
// metrics).
func (h *Host) BulkItems() map[string]uint64 { return h.bulkItems.snapshot() }

// RunningBulkJobs reports how many bulk jobs this host is executing (for metrics).
func (h *Host) RunningBulkJobs() int {
	h.jobs.mu.Lock()
	defer h.jobs.mu.Unlock()
	n := 0
	for _, r := range h.jobs.jobs {
		if !r.ended {
			n++
		}
	}
	return n
}

type jobKey struct{}

// withJob marks ctx as a bulk job's: its operations' tracking records name the job.
func withJob(ctx context.Context, id uuid.UUID) context.Context {
	return context.WithValue(ctx, jobKey{}, id)
}

func jobFrom(ctx context.Context) string {
	if id, ok := ctx.Value(jobKey{}).(uuid.UUID); ok {
		return id.String()
	}
	return ""
}
