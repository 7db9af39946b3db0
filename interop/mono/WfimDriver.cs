// WfimDriver: calls an MS-WFIM control endpoint through Mono's WCF client
// (System.ServiceModel ChannelFactory<T>), with the contract declared as .NET
// declares IWorkflowInstanceManagement / IWorkflowUpdateableInstanceManagement.
//
// Usage: mono WfimDriver.exe ENDPOINT_URL < calls.jsonl > results.jsonl
//
// Each input line is one call (the JSON of interoptest.Call, read by
// DriverSupport.cs, which is compiled into this driver):
//   {"seq":1,"binding":"basic","op":"Suspend","id":"…","reason":"…"|null,
//    "identity":{"name":…,"package":…,"version":…}|null,"textId":false,
//    "idNull":false}
// binding: basic (BasicHttpBinding, SOAP 1.1), wshttp (WSHttpBinding with
// SecurityMode.None: SOAP 1.2 + WS-Addressing 1.0), custom12 (CustomBinding,
// text encoding MessageVersion.Soap12WSAddressing10), custom11wsa
// (CustomBinding, MessageVersion.Soap11WSAddressing10).
// textId: call through a contract whose instanceId is a string, so the id
// goes on the wire exactly as given (WCF writes a Guid in lower case);
// with idNull as well, instanceId is sent as xsi:nil.
//
// Each output line is the outcome as the WCF client reports it
// (DriverSupport.cs: ok, or the FaultException's code, subcode, reason and
// action, or the error).
using System;
using System.Collections.Generic;
using System.Reflection;
using System.Runtime.Serialization;
using System.ServiceModel;
using System.ServiceModel.Channels;
using Wimp.Interop.Driver;

namespace Wimp.Interop
{
    [DataContract(Name = "WorkflowIdentity", Namespace = "http://schemas.datacontract.org/2004/07/System.Activities")]
    public class WorkflowIdentity
    {
        [DataMember(Name = "name", EmitDefaultValue = false)] public string Name;
        [DataMember(Name = "package", EmitDefaultValue = false)] public string Package;
        [DataMember(Name = "version", EmitDefaultValue = false)] public string Version;
    }

    // As System.ServiceModel.Activities.IWorkflowInstanceManagement.
    [ServiceContract(Name = "IWorkflowInstanceManagement", Namespace = "http://schemas.datacontract.org/2008/10/WorkflowServices")]
    public interface IWorkflowInstanceManagement
    {
        [OperationContract] void Abandon(Guid instanceId, string reason);
        [OperationContract] void Cancel(Guid instanceId);
        [OperationContract] void Run(Guid instanceId);
        [OperationContract] void Suspend(Guid instanceId, string reason);
        [OperationContract] void Terminate(Guid instanceId, string reason);
        [OperationContract] void Unsuspend(Guid instanceId);
        [OperationContract, TransactionFlow(TransactionFlowOption.Allowed)] void TransactedCancel(Guid instanceId);
        [OperationContract, TransactionFlow(TransactionFlowOption.Allowed)] void TransactedRun(Guid instanceId);
        [OperationContract, TransactionFlow(TransactionFlowOption.Allowed)] void TransactedSuspend(Guid instanceId, string reason);
        [OperationContract, TransactionFlow(TransactionFlowOption.Allowed)] void TransactedTerminate(Guid instanceId, string reason);
        [OperationContract, TransactionFlow(TransactionFlowOption.Allowed)] void TransactedUnsuspend(Guid instanceId);
    }

    // As System.ServiceModel.Activities.IWorkflowUpdateableInstanceManagement:
    // same contract name and namespace, so the same actions.
    [ServiceContract(Name = "IWorkflowInstanceManagement", Namespace = "http://schemas.datacontract.org/2008/10/WorkflowServices")]
    public interface IWorkflowUpdateableInstanceManagement : IWorkflowInstanceManagement
    {
        [OperationContract] void Update(Guid instanceId, WorkflowIdentity updatedDefinitionIdentity);
        [OperationContract, TransactionFlow(TransactionFlowOption.Allowed)] void TransactedUpdate(Guid instanceId, WorkflowIdentity updatedDefinitionIdentity);
    }

    // The same contract with instanceId typed as a string: what a WCF client
    // written against the WSDL's guid pattern type may declare.
    [ServiceContract(Name = "IWorkflowInstanceManagement", Namespace = "http://schemas.datacontract.org/2008/10/WorkflowServices")]
    public interface IWorkflowInstanceManagementTextId
    {
        [OperationContract] void Abandon(string instanceId, string reason);
        [OperationContract] void Cancel(string instanceId);
        [OperationContract] void Run(string instanceId);
        [OperationContract] void Suspend(string instanceId, string reason);
        [OperationContract] void Terminate(string instanceId, string reason);
        [OperationContract] void Unsuspend(string instanceId);
        [OperationContract] void TransactedCancel(string instanceId);
        [OperationContract] void TransactedRun(string instanceId);
        [OperationContract] void TransactedSuspend(string instanceId, string reason);
        [OperationContract] void TransactedTerminate(string instanceId, string reason);
        [OperationContract] void TransactedUnsuspend(string instanceId);
        [OperationContract] void Update(string instanceId, WorkflowIdentity updatedDefinitionIdentity);
        [OperationContract] void TransactedUpdate(string instanceId, WorkflowIdentity updatedDefinitionIdentity);
    }

    public static class Program
    {
        static readonly Dictionary<string, ChannelFactory> factories = new Dictionary<string, ChannelFactory>();

        static ChannelFactory Factory(string endpoint, string binding, bool textId)
        {
            string key = binding + (textId ? "/text" : "/guid"); // as in Discard
            ChannelFactory f;
            if (!factories.TryGetValue(key, out f))
            {
                var addr = new EndpointAddress(endpoint);
                if (textId)
                    f = new ChannelFactory<IWorkflowInstanceManagementTextId>(Bindings.Make(binding, TimeSpan.FromSeconds(60)), addr);
                else
                    f = new ChannelFactory<IWorkflowUpdateableInstanceManagement>(Bindings.Make(binding, TimeSpan.FromSeconds(60)), addr);
                factories[key] = f;
            }
            return f;
        }

        static MethodInfo FindMethod(Type contract, string op)
        {
            var m = contract.GetMethod(op);
            if (m != null) return m;
            foreach (var i in contract.GetInterfaces())
            {
                m = i.GetMethod(op);
                if (m != null) return m;
            }
            throw new ArgumentException("unknown operation " + op);
        }

        static Result Invoke(string endpoint, Call c)
        {
            Result r;
            object channel = null;
            try
            {
                var factory = Factory(endpoint, c.Binding, c.TextId);
                Type contract;
                if (c.TextId)
                {
                    channel = ((ChannelFactory<IWorkflowInstanceManagementTextId>)factory).CreateChannel();
                    contract = typeof(IWorkflowInstanceManagementTextId);
                }
                else
                {
                    channel = ((ChannelFactory<IWorkflowUpdateableInstanceManagement>)factory).CreateChannel();
                    contract = typeof(IWorkflowUpdateableInstanceManagement);
                }
                var method = FindMethod(contract, c.Op);
                var ps = method.GetParameters();
                var args = new object[ps.Length];
                for (int i = 0; i < ps.Length; i++)
                {
                    switch (ps[i].Name)
                    {
                        case "instanceId":
                            if (c.TextId)
                                args[i] = c.IdNull ? null : c.Id;
                            else
                                args[i] = Guid.Parse(c.Id);
                            break;
                        case "reason":
                            args[i] = c.Reason;
                            break;
                        case "updatedDefinitionIdentity":
                            args[i] = c.Identity == null ? null : new WorkflowIdentity
                            {
                                Name = c.Identity.Name,
                                Package = c.Identity.Package,
                                Version = c.Identity.Version,
                            };
                            break;
                        default:
                            throw new InvalidOperationException("unexpected parameter " + ps[i].Name);
                    }
                }
                try
                {
                    ((IClientChannel)channel).Open();
                    method.Invoke(channel, args);
                }
                catch (TargetInvocationException e)
                {
                    throw e.InnerException;
                }
                r = Outcomes.Ok(c);
                ((IClientChannel)channel).Close();
            }
            catch (FaultException fe)
            {
                r = Outcomes.Fault(c, fe);
                // A fault is a reply: the channel is still usable and is closed
                // normally (Mono's Abort would dispose the shared factory).
                try { ((IClientChannel)channel).Close(); }
                catch (Exception) { Discard(channel, c); }
            }
            catch (Exception e)
            {
                r = Outcomes.Error(c, e);
                Discard(channel, c);
            }
            return r;
        }

        // Discard aborts a broken channel and drops its factory, which Mono
        // disposes along with the channel; the next call builds a new one.
        static void Discard(object channel, Call c)
        {
            var ch = channel as IClientChannel;
            if (ch != null) ch.Abort();
            factories.Remove(c.Binding + (c.TextId ? "/text" : "/guid"));
        }

        public static int Main(string[] argv)
        {
            if (argv.Length != 1)
            {
                Console.Error.WriteLine("usage: mono WfimDriver.exe ENDPOINT_URL < calls.jsonl");
                return 2;
            }
            JsonLines.Serve(c => Invoke(argv[0], c));
            return 0;
        }
    }
}
