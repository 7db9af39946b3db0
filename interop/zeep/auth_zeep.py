"""auth_zeep: calls an MS-WFIM control endpoint with credentials through zeep, from the
endpoint's own WSDL, over HTTPS.

Usage: python3 auth_zeep.py ENDPOINT_URL CA_FILE < calls.jsonl > results.jsonl

The server is verified with CA_FILE only: a requests Session with verify=CA_FILE and
trust_env=False (otherwise requests lets $REQUESTS_CA_BUNDLE or $CURL_CA_BUNDLE override
the session's verify, and would use proxies from the environment). ENDPOINT_URL?wsdl is
loaded once, without credentials (?wsdl needs none; a wrong password would be refused there
too). Then for each input line (one call)

  {"seq":1,"binding":"soap11"|"soap12","auth":"basic"|"wsse"|"none",
   "user":"...","password":"...","op":"Suspend"|"Terminate","id":"...","reason":"..."}

it sets the credentials: basic puts requests.auth.HTTPBasicAuth(user, password) on the
session that zeep.transports.Transport(session=...) uses (requests sends it with the
request, without waiting for a challenge); wsse sets the client's wsse to
zeep.wsse.username.UsernameToken(user, password) (a PasswordText token, no Timestamp);
none sets neither. It calls the operation through the WSDL's SOAP 1.1 or SOAP 1.2 port and
prints one line with what zeep reports:

  {"seq":1,"outcome":"ok"}
  {"seq":1,"outcome":"fault","code":"<Fault.code>","codeNs":...,"codeName":...,
   "subcodes":[{"ns":...,"name":...}],"reason":"<Fault.message>"}
  {"seq":1,"outcome":"error","errorType":...,"error":...,"statusCode":<TransportError.status_code>}

and for every call the HTTP status and WWW-Authenticate header of the last response
requests received ("httpStatus", "wwwAuthenticate"; a response hook on the session).
"""

import json
import sys

import requests
import zeep
from requests.auth import HTTPBasicAuth
from zeep.exceptions import Fault, TransportError
from zeep.plugins import Plugin
from zeep.transports import Transport
from zeep.wsse.username import UsernameToken

SERVICE = "WorkflowControlService"
PORTS = {
    "soap11": "DefaultBinding_IWorkflowInstanceManagement",
    "soap12": "Soap12Binding_IWorkflowInstanceManagement",
}
ENV = {
    "soap11": "http://schemas.xmlsoap.org/soap/envelope/",
    "soap12": "http://www.w3.org/2003/05/soap-envelope",
}


class LastReply(Plugin):
    """Keeps the last reply envelope, to resolve Fault.code's prefix."""

    def __init__(self):
        self.envelope = None

    def ingress(self, envelope, http_headers, operation):
        self.envelope = envelope
        return envelope, http_headers


def resolve_code(envelope, binding):
    """Fault.code is the element's text ("a:AccessDenied"); resolve it in the scope of the
    element it came from."""
    if envelope is None:
        return None, None
    env = ENV[binding]
    if binding == "soap11":
        node = envelope.find("{%s}Body/{%s}Fault/faultcode" % (env, env))
    else:
        node = envelope.find("{%s}Body/{%s}Fault/{%s}Code/{%s}Value" % (env, env, env, env))
    if node is None:
        return None, None
    prefix, _, local = (node.text or "").strip().rpartition(":")
    return node.nsmap.get(prefix or None), local


def main():
    if len(sys.argv) != 3:
        print("usage: auth_zeep.py ENDPOINT_URL CA_FILE < calls.jsonl", file=sys.stderr)
        return 2
    endpoint, ca_file = sys.argv[1:]
    session = requests.Session()
    session.trust_env = False
    session.verify = ca_file
    last_response = {}

    def remember(response, *args, **kwargs):
        last_response["status"] = response.status_code
        last_response["challenge"] = response.headers.get("WWW-Authenticate")

    session.hooks["response"].append(remember)
    last = LastReply()
    client, services, load_error = None, {}, None
    try:
        client = zeep.Client(endpoint + "?wsdl", transport=Transport(session=session), plugins=[last])
        services = {name: client.bind(SERVICE, port) for name, port in PORTS.items()}
    except Exception as e:  # e.g. the server's certificate is refused: each call reports it
        client, load_error = None, e
    for line in sys.stdin:
        if not line.strip():
            continue
        call = json.loads(line)
        out = {"seq": call["seq"]}
        last.envelope = None
        last_response.clear()
        try:
            if client is None:
                raise load_error
            session.auth = None
            client.wsse = None
            if call["auth"] == "basic":
                session.auth = HTTPBasicAuth(call["user"], call["password"])
            elif call["auth"] == "wsse":
                client.wsse = UsernameToken(call["user"], call["password"])
            elif call["auth"] != "none":
                raise ValueError("unknown auth " + call["auth"])
            getattr(services[call["binding"]], call["op"])(instanceId=call["id"], reason=call["reason"])
            out["outcome"] = "ok"
        except Fault as f:
            out["outcome"] = "fault"
            out["code"] = f.code
            out["codeNs"], out["codeName"] = resolve_code(last.envelope, call["binding"])
            out["subcodes"] = [{"ns": q.namespace, "name": q.localname} for q in (f.subcodes or [])]
            out["reason"] = f.message
        except Exception as e:  # transport (HTTP status, TLS), XML or validation errors
            out["outcome"] = "error"
            out["errorType"] = type(e).__module__ + "." + type(e).__name__
            out["error"] = repr(e)
            if isinstance(e, TransportError):
                out["statusCode"] = e.status_code
        out["httpStatus"] = last_response.get("status")
        out["wwwAuthenticate"] = last_response.get("challenge")
        sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
