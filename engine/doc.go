// Package engine is wimp's embedded workflow runtime, modelled on WF4's System.Activities.
// It is a pure, deterministic library: no goroutines, no wall clock (time is passed in), no I/O
// except reading definition files. The host owns concurrency, persistence and timers.
//
// Definitions (see FORMAT.md): ParseDefinition parses the XML vocabulary; a Registry holds the
// embedded samples plus a directory of definitions, looked up by name/version or identity.
//
// Runtime: an Instance is a tree of activity instances (Executing → Closed | Canceled |
// Faulted) driven by a FIFO, non-preemptive queue of work items (execute, completion callback,
// bookmark resumption, cancel). An activity that waits creates a bookmark (Receive) or a
// durable timer (Delay) and returns; the instance is idle when the queue is empty. Every
// continuation is a name, so the whole state serialises: Snapshot writes a versioned image
// ("wimp-image/1") and Restore reads it back, in the same or another process.
//
// A host typically:
//
//	in, _ := engine.Start(def, id, inputs, now)     // or engine.Restore(reg, image)
//	for {
//	    r := in.Run(now, 100)                         // budget: a Suspend can land between batches
//	    recs := in.DrainRecords()                     // tracking, to store with the state change
//	    switch r.Kind {
//	    case engine.ResultRunnable:           continue
//	    case engine.ResultPersistRequested:   persist(in.Snapshot()); continue
//	    case engine.ResultIdle:               persist(...) // bookmarks: in.Bookmarks(), timer: in.NextTimer(), state: in.CurrentState()
//	    case engine.ResultCompleted:          ...          // r.Completion, r.Reason
//	    case engine.ResultUnhandledException: ...          // policy: in.Cancel()+Run, in.Terminate(r), in.Fault(), or discard + reload
//	    }
//	}
//
// External events: ResumeBookmark(name, payload), FireDueTimers(now), Cancel(), Terminate(reason),
// Update(newDef); each is followed by Run. An Instance is not safe for concurrent use.
//
// Activities written in Go are ActivityTypes given to LoadRegistry/NewRegistry/ParseDefinition
// (HttpRequest is a built-in one). A code-only type runs inside its work item; an asynchronous
// one records a pending call in the image ("wimp-image/2" while one is pending) and waits: the
// host performs in.PendingCalls() after persisting them and answers with CompleteCall(id,
// outcome). Retries' back-off and each attempt's deadline are durable timers, so NextTimer
// covers them.
//
// A StateMachine's current state is part of the image: CurrentStates lists the state of every
// executing machine (outermost first) and CurrentState the outermost one's, for a host's
// currentState; state changes are tracked as StateEntered/StateExited activity records.
package engine
