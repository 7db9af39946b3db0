package hosting_test

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/wimp-project/wimp/internal/testserver"
	"github.com/wimp-project/wimp/server/servertest"
)

// zeepScript drives the hosting contract through a client zeep builds from ?wsdl, over both
// ports, and prints what it saw; the Go test checks the lines.
const zeepScript = `
import sys, zeep
c = zeep.Client(sys.argv[1] + '/WorkflowHosting?wsdl')
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
        print(port, 'fault', f.code.split(':')[-1], ['{%s}%s' % (q.namespace, q.localname) for q in (f.subcodes or [])])
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
		// SOAP 1.2: Code Sender with the WorkflowServices subcode; SOAP 1.1: the subcode is the
		// faultcode (zeep shows it as written, prefix:local).
		if strings.HasPrefix(port, "Soap12") {
			want = append(want, port+" fault Sender ['{"+wfNS+"}InstanceCompleted']")
		} else {
			want = append(want, port+" fault InstanceCompleted []")
		}
	}
	if got != strings.Join(want, "\n") {
		t.Errorf("zeep saw:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}
