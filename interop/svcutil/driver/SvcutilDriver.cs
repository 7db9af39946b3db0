// SvcutilDriver: calls an MS-WFIM control endpoint through the client proxy that
// Mono's svcutil generated from the server's own WSDL (WorkflowInstanceManagementClient,
// IWorkflowInstanceManagement and the System.Activities.WorkflowIdentity data contract, all
// from the generated source compiled alongside this file). Nothing of the contract is
// declared here: a call that compiles and works went through what svcutil made of the WSDL.
//
// Usage: mono SvcutilDriver.exe BINDING ENDPOINT_URL < calls.jsonl > results.jsonl
//
// BINDING: basic (BasicHttpBinding, SOAP 1.1, the WSDL's DefaultBinding port) or soap12
// (CustomBinding, text encoding MessageVersion.Soap12 without WS-Addressing, the WSDL's
// Soap12Binding port). Mono's svcutil writes no configuration file, so the binding is made
// here and handed to the generated client's (Binding, EndpointAddress) constructor.
//
// Each input line is one call:
//   {"seq":1,"op":"Suspend","id":"…","reason":"…"|null,
//    "identity":{"name":…,"package":…,"version":…}|null}
// Each output line is the outcome, only as WCF reports it:
//   {"seq":1,"outcome":"ok"}
//   {"seq":1,"outcome":"fault","isSender":…,"codeName":…,"codeNs":…,
//    "subcodeName":…,"subcodeNs":…,"reason":…}
//   {"seq":1,"outcome":"error","errorType":…,"error":…}
using System;
using System.IO;
using System.Runtime.Serialization;
using System.Runtime.Serialization.Json;
using System.ServiceModel;
using System.ServiceModel.Channels;
using System.Text;

namespace Wimp.Interop.Svcutil
{
    [DataContract]
    public class Call
    {
        [DataMember(Name = "seq")] public int Seq;
        [DataMember(Name = "op")] public string Op;
        [DataMember(Name = "id")] public string Id;
        [DataMember(Name = "reason")] public string Reason;
        [DataMember(Name = "identity")] public IdentityJson Identity;
    }

    [DataContract]
    public class IdentityJson
    {
        [DataMember(Name = "name")] public string Name;
        [DataMember(Name = "package")] public string Package;
        [DataMember(Name = "version")] public string Version;
    }

    [DataContract]
    public class Result
    {
        [DataMember(Name = "seq", Order = 0)] public int Seq;
        [DataMember(Name = "outcome", Order = 1)] public string Outcome;
        [DataMember(Name = "isSender", Order = 2)] public bool IsSender;
        [DataMember(Name = "codeName", Order = 3, EmitDefaultValue = false)] public string CodeName;
        [DataMember(Name = "codeNs", Order = 4, EmitDefaultValue = false)] public string CodeNs;
        [DataMember(Name = "subcodeName", Order = 5, EmitDefaultValue = false)] public string SubcodeName;
        [DataMember(Name = "subcodeNs", Order = 6, EmitDefaultValue = false)] public string SubcodeNs;
        [DataMember(Name = "reason", Order = 7, EmitDefaultValue = false)] public string Reason;
        [DataMember(Name = "errorType", Order = 8, EmitDefaultValue = false)] public string ErrorType;
        [DataMember(Name = "error", Order = 9, EmitDefaultValue = false)] public string Error;
    }

    public static class Program
    {
        static Binding MakeBinding(string name)
        {
            Binding b;
            switch (name)
            {
                case "basic":
                    b = new BasicHttpBinding();
                    break;
                case "soap12":
                    b = new CustomBinding(
                        new TextMessageEncodingBindingElement(MessageVersion.Soap12, Encoding.UTF8),
                        new HttpTransportBindingElement());
                    break;
                default:
                    throw new ArgumentException("unknown binding " + name);
            }
            b.SendTimeout = b.ReceiveTimeout = b.OpenTimeout = b.CloseTimeout = TimeSpan.FromSeconds(30);
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

        static Result Perform(Binding binding, EndpointAddress address, Call c)
        {
            var r = new Result { Seq = c.Seq };
            // One generated client per call, as an administration tool would use it.
            var client = new WorkflowInstanceManagementClient(binding, address);
            try
            {
                Invoke(client, c);
                r.Outcome = "ok";
                client.Close();
            }
            catch (FaultException fe)
            {
                r.Outcome = "fault";
                var code = fe.Code;
                if (code != null)
                {
                    r.IsSender = code.IsSenderFault;
                    r.CodeName = code.Name;
                    r.CodeNs = code.Namespace;
                    if (code.SubCode != null)
                    {
                        r.SubcodeName = code.SubCode.Name;
                        r.SubcodeNs = code.SubCode.Namespace;
                    }
                }
                r.Reason = fe.Reason == null ? null : fe.Reason.ToString();
                try { client.Close(); }
                catch (Exception) { client.Abort(); }
            }
            catch (Exception e)
            {
                r.Outcome = "error";
                r.ErrorType = e.GetType().FullName;
                r.Error = e.ToString();
                client.Abort();
            }
            return r;
        }

        public static int Main(string[] argv)
        {
            if (argv.Length != 2)
            {
                Console.Error.WriteLine("usage: mono SvcutilDriver.exe basic|soap12 ENDPOINT_URL < calls.jsonl");
                return 2;
            }
            var binding = MakeBinding(argv[0]);
            var address = new EndpointAddress(argv[1]);
            var inSer = new DataContractJsonSerializer(typeof(Call));
            var outSer = new DataContractJsonSerializer(typeof(Result));
            var stdin = new StreamReader(Console.OpenStandardInput(), new UTF8Encoding(false));
            var stdout = Console.OpenStandardOutput();
            string line;
            while ((line = stdin.ReadLine()) != null)
            {
                if (line.Trim().Length == 0) continue;
                Call c;
                using (var ms = new MemoryStream(Encoding.UTF8.GetBytes(line)))
                    c = (Call)inSer.ReadObject(ms);
                var r = Perform(binding, address, c);
                using (var ms = new MemoryStream())
                {
                    outSer.WriteObject(ms, r);
                    ms.WriteByte((byte)'\n');
                    ms.Position = 0;
                    ms.CopyTo(stdout);
                }
                stdout.Flush();
            }
            return 0;
        }
    }
}
