// SvcutilDriver: calls an MS-WFIM control endpoint through the client proxy that
// Mono's svcutil generated from the server's own WSDL (WorkflowInstanceManagementClient,
// IWorkflowInstanceManagement and the System.Activities.WorkflowIdentity data contract, all
// from the generated source compiled alongside this file). Nothing of the contract is
// declared here: a call that compiles and works went through what svcutil made of the WSDL.
//
// Usage: mono SvcutilDriver.exe ENDPOINT_URL < calls.jsonl > results.jsonl
//
// Each input line is one call, each output line its outcome only as WCF reports it
// (DriverSupport.cs, compiled into this driver: the JSON of interoptest.Call and
// interoptest.Outcome). The call's binding is basic (BasicHttpBinding, SOAP 1.1, the
// WSDL's DefaultBinding port) or soap12 (CustomBinding, text encoding
// MessageVersion.Soap12 without WS-Addressing, the WSDL's Soap12Binding port). Mono's
// svcutil writes no configuration file, so the binding is made in code (DriverSupport.cs:
// Bindings.Make) and handed to the generated client's (Binding, EndpointAddress)
// constructor.
using System;
using System.Collections.Generic;
using System.ServiceModel;
using System.ServiceModel.Channels;
using Wimp.Interop.Driver;

namespace Wimp.Interop.Svcutil
{
    public static class Program
    {
        static readonly Dictionary<string, Binding> bindings = new Dictionary<string, Binding>();

        static Binding MakeBinding(string name)
        {
            Binding b;
            if (!bindings.TryGetValue(name, out b))
                bindings[name] = b = Bindings.Make(name, TimeSpan.FromSeconds(30));
            return b;
        }

        // The generated data contract (namespace System.Activities, as svcutil maps
        // http://schemas.datacontract.org/2004/07/System.Activities).
        static System.Activities.WorkflowIdentity Identity(IdentityJson j)
        {
            if (j == null) return null;
            return new System.Activities.WorkflowIdentity { name = j.Name, package = j.Package, version = j.Version };
        }

        // Invoke makes the call through the generated client, statically typed: one
        // generated method per operation.
        static void Invoke(WorkflowInstanceManagementClient client, Call c)
        {
            var id = Guid.Parse(c.Id);
            switch (c.Op)
            {
                case "Abandon": client.Abandon(id, c.Reason); break;
                case "Cancel": client.Cancel(id); break;
                case "Run": client.Run(id); break;
                case "Suspend": client.Suspend(id, c.Reason); break;
                case "Terminate": client.Terminate(id, c.Reason); break;
                case "Unsuspend": client.Unsuspend(id); break;
                case "TransactedCancel": client.TransactedCancel(id); break;
                case "TransactedRun": client.TransactedRun(id); break;
                case "TransactedSuspend": client.TransactedSuspend(id, c.Reason); break;
                case "TransactedTerminate": client.TransactedTerminate(id, c.Reason); break;
                case "TransactedUnsuspend": client.TransactedUnsuspend(id); break;
                case "Update": client.Update(id, Identity(c.Identity)); break;
                case "TransactedUpdate": client.TransactedUpdate(id, Identity(c.Identity)); break;
                default: throw new ArgumentException("unknown operation " + c.Op);
            }
        }

        static Result Perform(EndpointAddress address, Call c)
        {
            // One generated client per call, as an administration tool would use it.
            var client = new WorkflowInstanceManagementClient(MakeBinding(c.Binding), address);
            try
            {
                Invoke(client, c);
                client.Close();
                return Outcomes.Ok(c);
            }
            catch (FaultException fe)
            {
                try { client.Close(); }
                catch (Exception) { client.Abort(); }
                return Outcomes.Fault(c, fe);
            }
            catch (Exception e)
            {
                client.Abort();
                return Outcomes.Error(c, e);
            }
        }

        public static int Main(string[] argv)
        {
            if (argv.Length != 1)
            {
                Console.Error.WriteLine("usage: mono SvcutilDriver.exe ENDPOINT_URL < calls.jsonl");
                return 2;
            }
            var address = new EndpointAddress(argv[0]);
            JsonLines.Serve(c => Perform(address, c));
            return 0;
        }
    }
}
