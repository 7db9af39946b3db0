package hosting_test

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/wimp-project/wimp/hosting"
	"github.com/wimp-project/wimp/internal/testserver"
	"github.com/wimp-project/wimp/server/servertest"
)

// zeepScript drives the hosting contract through a client zeep builds from ?wsdl, over both
// ports, and prints what it saw; the Go test checks the lines.
const zeepScript = `
import sys, time, zeep
c = zeep.Client(sys.argv[1] + '/WorkflowHosting?wsdl')
def fault(f):
    return '%s %s' % (f.code.split(':')[-1], ['{%s}%s' % (q.namespace, q.localname) for q in (f.subcodes or [])])
for port in ('SoapBinding_IWorkflowHosting', 'Soap12Binding_IWorkflowHosting'):
    s = c.bind('WorkflowHostingService', port)
    i = s.Create(definition='ExpenseApproval', version='1.0.0.0',
                 inputs={'input': [{'name': 'amount', 'value': '1500'}, {'name': 'submitter', 'value': '"zed"'}]})
    g = s.GetInstance(instanceId=i)
    print(port, 'created', g.state, ','.join(g.bookmarks.bookmark), g.definition.version)
    s.ResumeBookmark(instanceId=i, bookmark='Review', payload='{"approved": false, "reviewer": "x"}')
    g = s.GetInstance(instanceId=i)
    print(port, 'resumed', g.state, g.completion)
    print(port, 'listed', i in [x.id for x in s.ListInstances(state='Completed')])
    print(port, 'records', len(s.GetTrackingRecords(instanceId=i)) > 3)
    f = {'definition': 'ExpenseApproval', 'state': 'Completed', 'versionMin': '1.0'}
    q = s.QueryInstances(filter=f, pageSize=1)
    ids = [x.id for x in q.instance]
    while q.nextPageToken is not None:
        q = s.QueryInstances(filter=f, pageSize=1, pageToken=q.nextPageToken, includeVariables=True)
        ids += [x.id for x in q.instance]
    print(port, 'queried', len(ids), i in ids, len(set(ids)) == len(ids))
    n = s.CountInstances(filter={'bookmark': 'Review'}, groupBy='state')
    print(port, 'counted', n.total, len(n.group or []))
    n = s.CountInstances(groupBy='definition')
    print(port, 'by definition', ','.join('%s %s=%d' % (g.definition.name, g.definition.version, g.count) for g in n.group))
    d = [d for d in s.GetDefinitions() if d.name == 'ExpenseApproval' and d.version == '2.0.0.0'][0]
    print(port, 'definition', d.source, d.location, ','.join(a.name for a in d.arguments.argument),
          ','.join(u.version for u in d.updatableFrom.identity))
    try:
        s.ResumeBookmark(instanceId=i, bookmark='Review')
        print(port, 'fault none')
    except zeep.exceptions.Fault as f:
        print(port, 'fault', fault(f))
    # A bulk Suspend of the completed instances: each is refused as a single Suspend would be.
    j = s.StartBulkOperation(operation='Suspend', filter={'definition': 'ExpenseApproval', 'state': 'Completed'},
                             reason='zeep', ratePerSecond=500.0, maxInstances=10)
    print(port, 'bulk started', j.operation, j.filter.definition, j.filter.state, j.reason, j.dryRun,
          j.ratePerSecond, j.maxInstances, j.estimate, j.principal.split('@')[0])
    deadline = time.monotonic() + 30
    g = s.GetBulkOperation(jobId=j.id, itemsLimit=0)
    while g.job.status == 'Running' and time.monotonic() < deadline:
        time.sleep(0.01)
        g = s.GetBulkOperation(jobId=j.id, itemsLimit=0)
    g = s.GetBulkOperation(jobId=j.id)
    print(port, 'bulk', g.job.status, g.job.matched, g.job.done, g.job.ok,
          ','.join('%s=%d' % (x.outcome, x.count) for x in g.job.faults.fault),
          ','.join(x.outcome for x in g.item), i in [x.instanceId for x in g.item], g.nextItemsAfter == g.item[-1].seq)
    g = s.GetBulkOperation(jobId=j.id, itemsAfter=g.nextItemsAfter, itemsLimit=5)
    print(port, 'bulk after the last', len(g.item), g.nextItemsAfter)
    print(port, 'cancel of an ended job', s.CancelBulkOperation(jobId=j.id).status)
    d = s.StartBulkOperation(operation='Terminate', filter={'definition': 'ExpenseApproval'}, dryRun=True)
    print(port, 'dry run started', d.dryRun, d.estimate)
    try:
        s.GetBulkOperation(jobId='6f1d2c3b-4a59-4e6f-8a7b-9c0d1e2f3a4b')
        print(port, 'unknown job none')
    except zeep.exceptions.Fault as f:
        print(port, 'unknown job', fault(f))
    try:
        s.StartBulkOperation(operation='Delete')
        print(port, 'bad operation none')
    except zeep.exceptions.Fault as f:
        print(port, 'bad operation', fault(f))
    h = s.Create(definition='Hello')
    p = s.Purge(filter={'definition': 'Hello'}, dryRun=True)
    print(port, 'purge dry run', p.purged, p.live)
    p = s.Purge(filter={'definition': 'Hello'})
    print(port, 'purged', p.purged, p.live)
    try:
        s.GetInstance(instanceId=h)
        print(port, 'purged instance found')
    except zeep.exceptions.Fault as f:
        print(port, 'purged instance', fault(f))
    try:
        s.Purge(filter={'state': 'Active'})
        print(port, 'purge of live none')
    except zeep.exceptions.Fault as f:
        print(port, 'purge of live', fault(f))
`

func TestZeepDrivesTheHostingWSDL(t *testing.T) {
	python, _, ok := testserver.ZeepPython()
	if !ok {
		testserver.MissingClient(t, "zeep", "python3-zeep")
		return
	}
	base := servertest.Start(t, "")
	out, err := exec.Command(python, "-c", zeepScript, base).CombinedOutput()
	if err != nil {
		t.Fatalf("zeep: %v\n%s", err, out)
	}
	got := strings.TrimSpace(string(out))
	var want []string
	for k, port := range []string{"SoapBinding_IWorkflowHosting", "Soap12Binding_IWorkflowHosting"} {
		n := strconv.Itoa(k + 1) // the instances of ExpenseApproval so far: one created per port
		want = append(want,
			port+" created Active Review 1.0.0.0",
			port+" resumed Completed Closed",
			port+" listed True",
			port+" records True",
			port+" queried "+n+" True True",
			port+" counted 0 0",
			port+" by definition ExpenseApproval 1.0.0.0="+n,
			port+" definition embedded samples/ExpenseApprovalV2.xml amount,submitter,reviewTimeout 1.0.0.0",
		)
		// SOAP 1.2: Code Sender with the subcode; SOAP 1.1: the subcode is the faultcode (zeep
		// shows it as written, prefix:local).
		fault := func(ns, subcode string) string {
			if strings.HasPrefix(port, "Soap12") {
				return "Sender ['{" + ns + "}" + subcode + "']"
			}
			return subcode + " []"
		}
		want = append(want, port+" fault "+fault(wfNS, "InstanceCompleted"))
		// The bulk Suspend meets the n completed ExpenseApproval instances, each closed: the state
		// table's InstanceCompleted. Purge deletes this port's Hello (the one before it is gone).
		want = append(want,
			port+" bulk started Suspend ExpenseApproval Completed zeep False 500.0 10 "+n+" anonymous",
			port+" bulk Completed "+n+" "+n+" 0 InstanceCompleted="+n+" "+strings.TrimSuffix(strings.Repeat("InstanceCompleted,", k+1), ",")+" True True",
			port+" bulk after the last 0 "+n,
			port+" cancel of an ended job Completed",
			port+" dry run started True "+n,
			port+" unknown job "+fault(hosting.NS, "BulkOperationNotFound"),
			port+" bad operation "+fault(hosting.NS, "InvalidInput"),
			port+" purge dry run 1 0",
			port+" purged 1 0",
			port+" purged instance "+fault(wfNS, "InstanceNotFound"),
			port+" purge of live "+fault(hosting.NS, "InvalidArgument"),
		)
	}
	if got != strings.Join(want, "\n") {
		t.Errorf("zeep saw:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}
