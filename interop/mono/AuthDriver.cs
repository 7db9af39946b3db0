// AuthDriver: calls an MS-WFIM control endpoint over HTTPS with credentials through Mono's
// WCF client (System.ServiceModel ChannelFactory<T>, the contract as WfimDriver.cs declares
// it), and reports what WCF reported. It decides nothing: the Go test
// (interop/auth_mono_test.go) feeds it calls and judges the outcomes.
//
// Usage: mono AuthDriver.exe ENDPOINT_URL CA_FILE < calls.jsonl > results.jsonl
//
// The server's certificate is checked against CA_FILE (PEM) by a
// ServicePointManager.ServerCertificateValidationCallback: the only policy error allowed is
// the chain's (its root is not in the system store), and the chain Mono's X509Chain builds
// with CA_FILE as an extra store must end at that CA with no status other than
// UntrustedRoot. Nothing is installed anywhere. (The CA and certificate must be RSA: Mono's
// managed X509Chain cannot decode an ECDSA public key.)
//
// Each input line is one call:
//   {"seq":1,"binding":"basichttps","user":"operator","password":"…","op":"Suspend",
//    "id":"…","reason":"…"}
// user "" sends no credentials. binding:
//   basichttps      BasicHttpsBinding(BasicHttpsSecurityMode.Transport), Security.Transport.
//                   ClientCredentialType = HttpClientCredentialType.Basic, the user in
//                   factory.Credentials.UserName (SOAP 1.1; WCF sends the credentials after
//                   the server's 401 challenge)
//   basictransport  the same with BasicHttpBinding(BasicHttpSecurityMode.Transport)
//   custom12        CustomBinding(TextMessageEncodingBindingElement(Soap12WSAddressing10),
//                   HttpsTransportBindingElement { AuthenticationScheme = Basic }) (SOAP 1.2)
//   wshttps         WSHttpBinding(SecurityMode.Transport), Security.Transport.
//                   ClientCredentialType = Basic (SOAP 1.2)
//   twmc            BasicHttpBinding(BasicHttpSecurityMode.TransportWithMessageCredential),
//                   Security.Message.ClientCredentialType = BasicHttpMessageCredentialType.
//                   UserName: WCF's own UsernameToken
//   token11         BasicHttpsBinding(BasicHttpsSecurityMode.Transport), no transport
//                   credentials, and an endpoint behavior whose IClientMessageInspector adds
//                   a wsse:Security header (mustUnderstand) with a wsu:Timestamp (five
//                   minutes) and a UsernameToken with a PasswordText password, laid out as
//                   .NET's TransportWithMessageCredential writes them (SOAP 1.1)
//   token12         the same header over CustomBinding(TextMessageEncodingBindingElement(
//                   Soap12WSAddressing10), HttpsTransportBindingElement) (SOAP 1.2)
//
//   anonymous       BasicHttpsBinding(BasicHttpsSecurityMode.Transport) without credentials
//
// Each output line is the outcome as WCF reports it (DriverSupport.cs's Outcomes: ok, or
// the FaultException's code, subcode, reason and action, or the exception's type and text).
// An HTTP error status is only in the text: Mono's HttpRequestChannel throws a WebException
// without its response ("There was an error on processing web request: Status code
// 401(Unauthorized): Unauthorized"), so the WWW-Authenticate header is not exposed.
using System;
using System.IO;
using System.Net;
using System.Net.Security;
using System.Runtime.Serialization;
using System.Runtime.Serialization.Json;
using System.Security.Cryptography.X509Certificates;
using System.ServiceModel;
using System.ServiceModel.Channels;
using System.ServiceModel.Description;
using System.ServiceModel.Dispatcher;
using System.Text;
using System.Xml;
using Wimp.Interop.Driver;

namespace Wimp.Interop.Auth
{
    // As System.ServiceModel.Activities.IWorkflowInstanceManagement (the operations the
    // auth test calls), as WfimDriver.cs declares it.
    [ServiceContract(Name = "IWorkflowInstanceManagement", Namespace = "http://schemas.datacontract.org/2008/10/WorkflowServices")]
    public interface IWorkflowInstanceManagement
    {
        [OperationContract] void Suspend(Guid instanceId, string reason);
        [OperationContract] void Terminate(Guid instanceId, string reason);
    }

    [DataContract]
    public class AuthCall
    {
        [DataMember(Name = "seq")] public int Seq;
        [DataMember(Name = "binding")] public string Binding;
        [DataMember(Name = "user")] public string User;
        [DataMember(Name = "password")] public string Password;
        [DataMember(Name = "op")] public string Op;
        [DataMember(Name = "id")] public string Id;
        [DataMember(Name = "reason")] public string Reason;
    }

    // UsernameTokenHeader is a WS-Security 1.0 header as .NET's TransportWithMessageCredential
    // (UserNameOverTransport) writes it: o:Security with s:mustUnderstand="1", a u:Timestamp
    // with Id "_0" and a u:Id'd UsernameToken whose Password is PasswordText.
    public class UsernameTokenHeader : MessageHeader
    {
        const string Wsse = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
        const string Wsu = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
        const string PasswordText = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText";
        readonly string user, password;

        public UsernameTokenHeader(string user, string password)
        {
            this.user = user;
            this.password = password;
        }

        public override string Name { get { return "Security"; } }
        public override string Namespace { get { return Wsse; } }
        public override bool MustUnderstand { get { return true; } }

        protected override void OnWriteStartHeader(XmlDictionaryWriter w, MessageVersion version)
        {
            w.WriteStartElement("o", Name, Namespace);
            WriteHeaderAttributes(w, version);
        }

        protected override void OnWriteHeaderContents(XmlDictionaryWriter w, MessageVersion version)
        {
            var now = DateTime.UtcNow;
            w.WriteStartElement("u", "Timestamp", Wsu);
            w.WriteAttributeString("u", "Id", Wsu, "_0");
            w.WriteElementString("u", "Created", Wsu, now.ToString("yyyy-MM-ddTHH:mm:ss.fffZ"));
            w.WriteElementString("u", "Expires", Wsu, now.AddMinutes(5).ToString("yyyy-MM-ddTHH:mm:ss.fffZ"));
            w.WriteEndElement();
            w.WriteStartElement("o", "UsernameToken", Wsse);
            w.WriteAttributeString("u", "Id", Wsu, "uuid-" + Guid.NewGuid() + "-1");
            w.WriteElementString("o", "Username", Wsse, user);
            w.WriteStartElement("o", "Password", Wsse);
            w.WriteAttributeString("Type", PasswordText);
            w.WriteString(password);
            w.WriteEndElement();
            w.WriteEndElement();
        }
    }

    // UsernameTokenBehavior adds a UsernameTokenHeader to every request of its endpoint.
    public class UsernameTokenBehavior : IEndpointBehavior, IClientMessageInspector
    {
        readonly string user, password;

        public UsernameTokenBehavior(string user, string password)
        {
            this.user = user;
            this.password = password;
        }

        public object BeforeSendRequest(ref Message request, IClientChannel channel)
        {
            request.Headers.Add(new UsernameTokenHeader(user, password));
            return null;
        }

        public void AfterReceiveReply(ref Message reply, object correlationState) { }
        public void AddBindingParameters(ServiceEndpoint endpoint, BindingParameterCollection parameters) { }
        public void ApplyClientBehavior(ServiceEndpoint endpoint, ClientRuntime runtime) { runtime.MessageInspectors.Add(this); }
        public void ApplyDispatchBehavior(ServiceEndpoint endpoint, EndpointDispatcher dispatcher) { }
        public void Validate(ServiceEndpoint endpoint) { }
    }

    public static class Program
    {
        static X509Certificate2 ca;

        // ReadPem reads the first certificate of a PEM file.
        static X509Certificate2 ReadPem(string path)
        {
            const string begin = "-----BEGIN CERTIFICATE-----", end = "-----END CERTIFICATE-----";
            var text = File.ReadAllText(path);
            int a = text.IndexOf(begin), b = text.IndexOf(end);
            if (a < 0 || b < a)
                throw new InvalidDataException(path + " holds no PEM certificate");
            a += begin.Length;
            return new X509Certificate2(Convert.FromBase64String(text.Substring(a, b - a)));
        }

        // Validate accepts the server's certificate only when it chains to the CA given.
        static bool Validate(object sender, X509Certificate certificate, X509Chain systemChain, SslPolicyErrors errors)
        {
            try
            {
                if (certificate == null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None)
                {
                    Console.Error.WriteLine("certificate refused: " + errors);
                    return false;
                }
                var chain = new X509Chain();
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                chain.ChainPolicy.VerificationFlags = X509VerificationFlags.AllowUnknownCertificateAuthority;
                chain.ChainPolicy.ExtraStore.Add(ca);
                if (!chain.Build(new X509Certificate2(certificate)))
                {
                    Console.Error.WriteLine("certificate refused: its chain does not build");
                    return false;
                }
                var root = chain.ChainElements[chain.ChainElements.Count - 1].Certificate;
                if (chain.ChainElements.Count < 2 || root.Thumbprint != ca.Thumbprint)
                {
                    Console.Error.WriteLine("certificate refused: its chain ends at " + root.Subject + ", not at the CA given");
                    return false;
                }
                foreach (var s in chain.ChainStatus)
                {
                    if (s.Status != X509ChainStatusFlags.NoError && s.Status != X509ChainStatusFlags.UntrustedRoot)
                    {
                        Console.Error.WriteLine("certificate refused: " + s.Status + " " + s.StatusInformation);
                        return false;
                    }
                }
                return true;
            }
            catch (Exception e)
            {
                Console.Error.WriteLine("certificate refused: " + e);
                return false;
            }
        }

        static Binding Timeouts(Binding b)
        {
            b.SendTimeout = b.ReceiveTimeout = b.OpenTimeout = b.CloseTimeout = TimeSpan.FromSeconds(30);
            return b;
        }

        static ChannelFactory<IWorkflowInstanceManagement> Factory(string endpoint, AuthCall c)
        {
            Binding b;
            bool token = false;
            switch (c.Binding)
            {
                case "basichttps":
                {
                    var x = new BasicHttpsBinding(BasicHttpsSecurityMode.Transport);
                    x.Security.Transport.ClientCredentialType = HttpClientCredentialType.Basic;
                    b = x;
                    break;
                }
                case "basictransport":
                {
                    var x = new BasicHttpBinding(BasicHttpSecurityMode.Transport);
                    x.Security.Transport.ClientCredentialType = HttpClientCredentialType.Basic;
                    b = x;
                    break;
                }
                case "custom12":
                {
                    var t = new HttpsTransportBindingElement();
                    t.AuthenticationScheme = AuthenticationSchemes.Basic;
                    b = new CustomBinding(new TextMessageEncodingBindingElement(MessageVersion.Soap12WSAddressing10, Encoding.UTF8), t);
                    break;
                }
                case "wshttps":
                {
                    var x = new WSHttpBinding(SecurityMode.Transport);
                    x.Security.Transport.ClientCredentialType = HttpClientCredentialType.Basic;
                    b = x;
                    break;
                }
                case "twmc":
                {
                    var x = new BasicHttpBinding(BasicHttpSecurityMode.TransportWithMessageCredential);
                    x.Security.Message.ClientCredentialType = BasicHttpMessageCredentialType.UserName;
                    b = x;
                    break;
                }
                case "token11":
                    b = new BasicHttpsBinding(BasicHttpsSecurityMode.Transport);
                    token = true;
                    break;
                case "anonymous":
                    b = new BasicHttpsBinding(BasicHttpsSecurityMode.Transport);
                    break;
                case "token12":
                    b = new CustomBinding(new TextMessageEncodingBindingElement(MessageVersion.Soap12WSAddressing10, Encoding.UTF8),
                        new HttpsTransportBindingElement());
                    token = true;
                    break;
                default:
                    throw new ArgumentException("unknown binding " + c.Binding);
            }
            var f = new ChannelFactory<IWorkflowInstanceManagement>(Timeouts(b), new EndpointAddress(endpoint));
            if (!string.IsNullOrEmpty(c.User))
            {
                if (token)
                {
                    f.Endpoint.Behaviors.Add(new UsernameTokenBehavior(c.User, c.Password));
                }
                else
                {
                    f.Credentials.UserName.UserName = c.User;
                    f.Credentials.UserName.Password = c.Password;
                }
            }
            return f;
        }

        static Result Invoke(string endpoint, AuthCall c)
        {
            var call = new Call { Seq = c.Seq };
            ChannelFactory<IWorkflowInstanceManagement> factory = null;
            IWorkflowInstanceManagement channel = null;
            try
            {
                factory = Factory(endpoint, c);
                channel = factory.CreateChannel();
                ((IClientChannel)channel).Open();
                var id = Guid.Parse(c.Id);
                switch (c.Op)
                {
                    case "Suspend": channel.Suspend(id, c.Reason); break;
                    case "Terminate": channel.Terminate(id, c.Reason); break;
                    default: throw new ArgumentException("unknown operation " + c.Op);
                }
                var r = Outcomes.Ok(call);
                ((IClientChannel)channel).Close();
                factory.Close();
                return r;
            }
            catch (FaultException fe)
            {
                Close(channel, factory);
                return Outcomes.Fault(call, fe);
            }
            catch (Exception e)
            {
                Abort(channel, factory);
                return Outcomes.Error(call, e);
            }
        }

        static void Close(IWorkflowInstanceManagement channel, ChannelFactory factory)
        {
            try
            {
                if (channel != null) ((IClientChannel)channel).Close();
                if (factory != null) factory.Close();
            }
            catch (Exception)
            {
                Abort(channel, factory);
            }
        }

        static void Abort(IWorkflowInstanceManagement channel, ChannelFactory factory)
        {
            try
            {
                if (channel != null) ((IClientChannel)channel).Abort();
                if (factory != null) factory.Abort();
            }
            catch (Exception)
            {
            }
        }

        public static int Main(string[] argv)
        {
            if (argv.Length != 2)
            {
                Console.Error.WriteLine("usage: mono AuthDriver.exe ENDPOINT_URL CA_FILE < calls.jsonl");
                return 2;
            }
            ca = ReadPem(argv[1]);
            ServicePointManager.ServerCertificateValidationCallback = Validate;
            JsonLines.Serve<AuthCall>(c => Invoke(argv[0], c));
            return 0;
        }
    }
}
