"""wfim_zeep: calls an MS-WFIM control endpoint through zeep, from the
endpoint's own WSDL.

Usage: python3 wfim_zeep.py ENDPOINT_URL < calls.jsonl > results.jsonl

Loads ENDPOINT_URL?wsdl once, then for each input line (one call)

  {"seq":1,"binding":"soap11"|"soap12","op":"Suspend","id":"...",
   "reason":"..."|null,"reasonMode":"value"|"absent"|"nil",
   "identity":{"name":...,"package":...,"version":...}|null,
   "identityMode":"value"|"absent"|"nil","idNull":false}

calls the operation through the WSDL's SOAP 1.1 port
(DefaultBinding_IWorkflowInstanceManagement) or SOAP 1.2 port
(Soap12Binding_IWorkflowInstanceManagement) of WorkflowControlService, and
prints one line with what zeep reports:

  {"seq":1,"outcome":"ok"}
  {"seq":1,"outcome":"fault","code":"<zeep's Fault.code>",
   "codeNs":...,"codeName":...,          # Fault.code resolved as a QName
   "subcodes":[{"ns":...,"name":...}],   # Fault.subcodes
   "reason":"<Fault.message>"}
  {"seq":1,"outcome":"error","errorType":...,"error":...}

A reason or identity with mode "absent" is left out (zeep omits None), "nil"
is sent as xsi:nil (zeep.xsd.Nil); with idNull the instanceId is left out.
"""

import json
import sys

import zeep
from zeep.exceptions import Fault
from zeep.plugins import Plugin
from zeep.xsd import Nil

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


def resolve_code(envelope, binding, code):
    """Fault.code is the element text ("a:InstanceNotFound"); resolve it in
    the scope of the element it came from."""
    if envelope is None or code is None:
        return None, None
    env = ENV[binding]
    if binding == "soap11":
        node = envelope.find("{%s}Body/{%s}Fault/faultcode" % (env, env))
    else:
        node = envelope.find("{%s}Body/{%s}Fault/{%s}Code/{%s}Value" % (env, env, env, env))
    if node is None:
        return None, None
    text = (node.text or "").strip()
    prefix, _, local = text.rpartition(":")
    return node.nsmap.get(prefix or None), local


def arg(mode, value):
    if mode == "nil":
        return Nil
    if mode == "absent":
        return None
    return value


def main():
    if len(sys.argv) != 2:
        print("usage: wfim_zeep.py ENDPOINT_URL < calls.jsonl", file=sys.stderr)
        return 2
    last = LastReply()
    client = zeep.Client(sys.argv[1] + "?wsdl", plugins=[last])
    services = {name: client.bind(SERVICE, port) for name, port in PORTS.items()}
    for line in sys.stdin:
        if not line.strip():
            continue
        call = json.loads(line)
        out = {"seq": call["seq"]}
        binding = call["binding"]
        op = call["op"]
        kwargs = {"instanceId": None if call.get("idNull") else call["id"]}
        if op in ("Abandon", "Suspend", "TransactedSuspend", "Terminate", "TransactedTerminate"):
            mode = call.get("reasonMode") or ("nil" if call.get("reason") is None else "value")
            kwargs["reason"] = arg(mode, call.get("reason"))
        if op in ("Update", "TransactedUpdate"):
            mode = call.get("identityMode") or ("nil" if call.get("identity") is None else "value")
            kwargs["updatedDefinitionIdentity"] = arg(mode, call.get("identity"))
        last.envelope = None
        try:
            res = getattr(services[binding], op)(**kwargs)
            out["outcome"] = "ok"
            if res is not None:
                out["result"] = repr(res)
        except Fault as f:
            out["outcome"] = "fault"
            out["code"] = f.code
            out["codeNs"], out["codeName"] = resolve_code(last.envelope, binding, f.code)
            out["subcodes"] = [{"ns": q.namespace, "name": q.localname} for q in (f.subcodes or [])]
            out["reason"] = f.message
        except Exception as e:  # transport, XML or validation errors
            out["outcome"] = "error"
            out["errorType"] = type(e).__module__ + "." + type(e).__name__
            out["error"] = repr(e)
        sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
