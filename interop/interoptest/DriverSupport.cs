// DriverSupport.cs: what both Mono drivers (interop/mono/WfimDriver.cs and
// interop/svcutil/driver/SvcutilDriver.cs) share, compiled into each of them
// (interoptest.CompileCSharp): the call they read and the outcome they print, one
// JSON line each, and how a call's outcome is taken from what WCF reported.
//
// Each input line is one call (interoptest.Call):
//   {"seq":1,"binding":"basic","op":"Suspend","id":"…","reason":"…"|null,
//    "identity":{"name":…,"package":…,"version":…}|null,"textId":false,"idNull":false}
// Each output line is the outcome, only as the WCF client reports it
// (interoptest.Outcome):
//   {"seq":1,"outcome":"ok"}
//   {"seq":1,"outcome":"fault","isSender":…,"isReceiver":…,"codeName":…,"codeNs":…,
//    "subcodeName":…,"subcodeNs":…,"reason":…,"action":…}
//   {"seq":1,"outcome":"error","errorType":…,"error":…}
using System;
using System.IO;
using System.Runtime.Serialization;
using System.Runtime.Serialization.Json;
using System.ServiceModel;
using System.ServiceModel.Channels;
using System.Text;

namespace Wimp.Interop.Driver
{
    [DataContract]
    public class Call
    {
        [DataMember(Name = "seq")] public int Seq;
        [DataMember(Name = "binding")] public string Binding;
        [DataMember(Name = "op")] public string Op;
        [DataMember(Name = "id")] public string Id;
        [DataMember(Name = "reason")] public string Reason;
        [DataMember(Name = "identity")] public IdentityJson Identity;
        [DataMember(Name = "textId")] public bool TextId;
        [DataMember(Name = "idNull")] public bool IdNull;
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
        [DataMember(Name = "isReceiver", Order = 3)] public bool IsReceiver;
        [DataMember(Name = "codeName", Order = 4, EmitDefaultValue = false)] public string CodeName;
        [DataMember(Name = "codeNs", Order = 5, EmitDefaultValue = false)] public string CodeNs;
        [DataMember(Name = "subcodeName", Order = 6, EmitDefaultValue = false)] public string SubcodeName;
        [DataMember(Name = "subcodeNs", Order = 7, EmitDefaultValue = false)] public string SubcodeNs;
        [DataMember(Name = "reason", Order = 8, EmitDefaultValue = false)] public string Reason;
        [DataMember(Name = "action", Order = 9, EmitDefaultValue = false)] public string Action;
        [DataMember(Name = "errorType", Order = 10, EmitDefaultValue = false)] public string ErrorType;
        [DataMember(Name = "error", Order = 11, EmitDefaultValue = false)] public string Error;
    }

    // Outcomes makes a call's Result from what WCF reported.
    public static class Outcomes
    {
        public static Result Ok(Call c)
        {
            return new Result { Seq = c.Seq, Outcome = "ok" };
        }

        // Fault is the outcome of a call answered with a SOAP fault, as WCF reports it.
        public static Result Fault(Call c, FaultException fe)
        {
            var r = new Result { Seq = c.Seq, Outcome = "fault" };
            var code = fe.Code;
            if (code != null)
            {
                r.IsSender = code.IsSenderFault;
                r.IsReceiver = code.IsReceiverFault;
                r.CodeName = code.Name;
                r.CodeNs = code.Namespace;
                if (code.SubCode != null)
                {
                    r.SubcodeName = code.SubCode.Name;
                    r.SubcodeNs = code.SubCode.Namespace;
                }
            }
            r.Reason = fe.Reason == null ? null : fe.Reason.ToString();
            r.Action = fe.Action;
            return r;
        }

        // Error is the outcome of a call that failed other than with a fault.
        public static Result Error(Call c, Exception e)
        {
            return new Result { Seq = c.Seq, Outcome = "error", ErrorType = e.GetType().FullName, Error = e.ToString() };
        }
    }

    public static class Bindings
    {
        // Make returns the binding a call names, with timeout for every phase:
        // basic (BasicHttpBinding, SOAP 1.1), wshttp (WSHttpBinding with
        // SecurityMode.None: SOAP 1.2 + WS-Addressing 1.0), and CustomBindings with
        // text encoding: soap12 (MessageVersion.Soap12, no WS-Addressing), custom12
        // (Soap12WSAddressing10), custom11wsa (Soap11WSAddressing10).
        public static Binding Make(string name, TimeSpan timeout)
        {
            Binding b;
            switch (name)
            {
                case "basic": b = new BasicHttpBinding(); break;
                case "wshttp": b = new WSHttpBinding(SecurityMode.None); break;
                case "soap12": b = Text(MessageVersion.Soap12); break;
                case "custom12": b = Text(MessageVersion.Soap12WSAddressing10); break;
                case "custom11wsa": b = Text(MessageVersion.Soap11WSAddressing10); break;
                default: throw new ArgumentException("unknown binding " + name);
            }
            b.SendTimeout = b.ReceiveTimeout = b.OpenTimeout = b.CloseTimeout = timeout;
            return b;
        }

        static Binding Text(MessageVersion version)
        {
            return new CustomBinding(new TextMessageEncodingBindingElement(version, Encoding.UTF8), new HttpTransportBindingElement());
        }
    }

    public static class JsonLines
    {
        // Serve reads calls from stdin, one JSON line each, and writes perform's
        // result for each to stdout as it comes.
        public static void Serve(Func<Call, Result> perform)
        {
            Serve<Call>(perform);
        }

        // Serve<TCall> is Serve for a driver whose calls carry more than Call
        // (AuthDriver's credentials).
        public static void Serve<TCall>(Func<TCall, Result> perform)
        {
            var inSer = new DataContractJsonSerializer(typeof(TCall));
            var outSer = new DataContractJsonSerializer(typeof(Result));
            var stdin = new StreamReader(Console.OpenStandardInput(), new UTF8Encoding(false));
            var stdout = Console.OpenStandardOutput();
            string line;
            while ((line = stdin.ReadLine()) != null)
            {
                if (line.Trim().Length == 0) continue;
                TCall c;
                using (var ms = new MemoryStream(Encoding.UTF8.GetBytes(line)))
                    c = (TCall)inSer.ReadObject(ms);
                var r = perform(c);
                using (var ms = new MemoryStream())
                {
                    outSer.WriteObject(ms, r);
                    ms.WriteByte((byte)'\n');
                    ms.Position = 0;
                    ms.CopyTo(stdout);
                }
                stdout.Flush();
            }
        }
    }
}
