// testdata/driver.cpp: calls MS-WFIM operations through the C++ proxy classes that
// gSOAP (wsdl2h -t typemap.dat -Nwfim, soapcpp2 -C -j -x) generated from wimp-server's own
// ?wsdl, and reports what gSOAP saw. It decides nothing: the Go test
// (../gsoap_test.go) builds it, feeds it calls and judges the outcomes.
//
// Usage: driver ENDPOINT < calls
//
// One call per input line, tab-separated fields:
//
//	SEQ  BINDING  OP  ID  ARG
//
// BINDING: soap11 (the proxy of the WSDL's SOAP 1.1 binding,
// DefaultBinding_IWorkflowInstanceManagement) or soap12 (the proxy of its
// SOAP 1.2 binding, Soap12Binding_IWorkflowInstanceManagement).
// OP: one of the 13 operations. ID: "-" for no instanceId element, else "="
// followed by the text sent as instanceId. ARG: for Suspend, Terminate and
// Abandon (and Transacted*) the reason, for Update the identity: "-" leaves
// the element out (NULL pointer), "=" followed by the text sends it (an
// identity as name|package|version); other operations ignore it. Text fields
// use \t, \n and \\ escapes.
//
// One JSON line per call on stdout:
//
//	{"seq":N,"binding":B,"op":OP,"error":E,"http":S,"version":V,
//	 "faultcode":..,"code":..,"subcode":..,"faultSubcode":..,"reason":..}
//
// error is the proxy method's return value (0 = SOAP_OK, 12 = SOAP_FAULT,
// others are gSOAP errors), http the HTTP status gSOAP received, version
// soap->version after the call (the SOAP version of the reply envelope as
// gSOAP parsed it), faultcode soap->fault->faultcode (SOAP 1.1), code and
// subcode SOAP-ENV:Code/Value and Code/Subcode/Value (SOAP 1.2),
// faultSubcode soap_fault_subcode() and reason soap_fault_string(). QNames
// are as gSOAP converts them: prefix:local with the prefix of gSOAP's
// namespace table, or "URI":local for a namespace the table lacks.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "soapDefaultBinding_USCOREIWorkflowInstanceManagementProxy.h"
#include "soapSoap12Binding_USCOREIWorkflowInstanceManagementProxy.h"
#include "DefaultBinding_USCOREIWorkflowInstanceManagement.nsmap"

typedef DefaultBinding_USCOREIWorkflowInstanceManagementProxy Soap11Proxy;
typedef Soap12Binding_USCOREIWorkflowInstanceManagementProxy Soap12Proxy;

static std::string unescape(const std::string &s) {
  std::string out;
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      char c = s[++i];
      out += c == 't' ? '\t' : c == 'n' ? '\n' : c;
    } else {
      out += s[i];
    }
  }
  return out;
}

static std::string json(const char *s) {
  if (s == NULL)
    return "null";
  std::string out = "\"";
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    switch (*p) {
    case '"': out += "\\\""; break;
    case '\\': out += "\\\\"; break;
    case '\n': out += "\\n"; break;
    case '\r': out += "\\r"; break;
    case '\t': out += "\\t"; break;
    default:
      if (*p < 0x20) {
        char buf[8];
        snprintf(buf, sizeof buf, "\\u%04x", *p);
        out += buf;
      } else {
        out += (char)*p; // UTF-8 passes through
      }
    }
  }
  return out + "\"";
}

static std::vector<std::string> split(const std::string &line) {
  std::vector<std::string> f;
  size_t start = 0;
  for (;;) {
    size_t tab = line.find('\t', start);
    f.push_back(line.substr(start, tab == std::string::npos ? std::string::npos : tab - start));
    if (tab == std::string::npos)
      return f;
    start = tab + 1;
  }
}

// An optional text field: "-" is absent, "=text" present.
struct Opt {
  bool present;
  std::string text;
};

static Opt opt(const std::string &field) {
  Opt o = {false, ""};
  if (!field.empty() && field[0] == '=') {
    o.present = true;
    o.text = unescape(field.substr(1));
  }
  return o;
}

static const int unknownOp = -1000; // not a gSOAP error code

// call fills the request of op and invokes it through proxy P. It returns
// unknownOp for an unknown operation name.
template <class P>
static int call(P &proxy, const std::string &op, Opt &id, Opt &arg, wfa__WorkflowIdentity *ident) {
  char *idp = id.present ? (char *)id.text.c_str() : NULL;
  std::string *reason = arg.present ? &arg.text : NULL;
  wfa__WorkflowIdentity *identity = arg.present ? ident : NULL;
#define SIMPLE(OP)                     \
  if (op == #OP) {                     \
    _wfs__##OP req;                    \
    _wfs__##OP##Response resp;         \
    req.instanceId = idp;              \
    return proxy.OP(&req, resp);       \
  }
#define WITH(OP, FIELD, VALUE)         \
  if (op == #OP) {                     \
    _wfs__##OP req;                    \
    _wfs__##OP##Response resp;         \
    req.instanceId = idp;              \
    req.FIELD = VALUE;                 \
    return proxy.OP(&req, resp);       \
  }
  SIMPLE(Run)
  SIMPLE(TransactedRun)
  SIMPLE(Unsuspend)
  SIMPLE(TransactedUnsuspend)
  SIMPLE(Cancel)
  SIMPLE(TransactedCancel)
  WITH(Suspend, reason, reason)
  WITH(TransactedSuspend, reason, reason)
  WITH(Terminate, reason, reason)
  WITH(TransactedTerminate, reason, reason)
  WITH(Abandon, reason, reason)
  WITH(Update, updatedDefinitionIdentity, identity)
  WITH(TransactedUpdate, updatedDefinitionIdentity, identity)
#undef SIMPLE
#undef WITH
  return unknownOp;
}

template <class P>
static void report(P &proxy, const std::string &seq, const std::string &binding, const std::string &op, int err) {
  struct soap *soap = proxy.soap;
  const char *faultcode = NULL, *code = NULL, *subcode = NULL, *faultSubcode = NULL, *reason = NULL;
  if (err == SOAP_FAULT && soap->fault != NULL) {
    SOAP_ENV__Fault *f = soap->fault;
    faultcode = f->faultcode;
    if (f->SOAP_ENV__Code != NULL) {
      code = f->SOAP_ENV__Code->SOAP_ENV__Value;
      if (f->SOAP_ENV__Code->SOAP_ENV__Subcode != NULL)
        subcode = f->SOAP_ENV__Code->SOAP_ENV__Subcode->SOAP_ENV__Value;
    }
    faultSubcode = soap_fault_subcode(soap);
    reason = soap_fault_string(soap);
  } else if (err != SOAP_OK) {
    // Not a SOAP fault (transport or parse error): gSOAP's own message.
    reason = soap_fault_string(soap);
  }
  std::cout << "{\"seq\":" << seq << ",\"binding\":" << json(binding.c_str()) << ",\"op\":" << json(op.c_str())
            << ",\"error\":" << err << ",\"http\":" << soap->status << ",\"version\":" << soap->version
            << ",\"faultcode\":" << json(faultcode) << ",\"code\":" << json(code) << ",\"subcode\":" << json(subcode)
            << ",\"faultSubcode\":" << json(faultSubcode) << ",\"reason\":" << json(reason) << "}" << std::endl;
}

template <class P>
static void run(P &proxy, const std::vector<std::string> &f) {
  Opt id = opt(f[3]), arg = opt(f[4]);
  // An identity argument is name|package|version; empty parts are sent as
  // empty elements.
  std::string parts[3];
  wfa__WorkflowIdentity ident;
  if (arg.present) {
    size_t a = arg.text.find('|'), b = a == std::string::npos ? a : arg.text.find('|', a + 1);
    parts[0] = arg.text.substr(0, a);
    if (a != std::string::npos)
      parts[1] = arg.text.substr(a + 1, b == std::string::npos ? b : b - a - 1);
    if (b != std::string::npos)
      parts[2] = arg.text.substr(b + 1);
    ident.name = &parts[0];
    ident.package = &parts[1];
    ident.version = &parts[2];
  }
  int err = call(proxy, f[2], id, arg, &ident);
  if (err == unknownOp) {
    std::cerr << "unknown operation " << f[2] << std::endl;
    exit(2);
  }
  report(proxy, f[0], f[1], f[2], err);
  proxy.destroy(); // free what gSOAP allocated for this call (fault included)
}

// soap11Namespaces returns a copy of the generated namespace table with the
// SOAP 1.1 envelope and encoding namespaces. wsdl2h declares one SOAP
// version for all the code it generates: the WSDL has a SOAP 1.2 binding, so
// it imports soap12.h and the shared table (and so both proxies) speak SOAP
// 1.2. soap_set_version(soap, 1) does not stick: every generated send_ op
// calls soap_begin, which rebuilds the context's namespaces from the table.
// A proxy of the SOAP 1.1 binding therefore gets its own table, gSOAP's way
// of choosing the version.
static struct Namespace *soap11Namespaces() {
  size_t n = 0;
  while (namespaces[n].id != NULL)
    n++;
  struct Namespace *t = new struct Namespace[n + 1];
  for (size_t i = 0; i <= n; i++) {
    t[i] = namespaces[i];
    if (t[i].id == NULL)
      continue;
    if (std::string(t[i].id) == "SOAP-ENV") {
      t[i].ns = "http://schemas.xmlsoap.org/soap/envelope/";
      t[i].in = "http://www.w3.org/*/soap-envelope";
    } else if (std::string(t[i].id) == "SOAP-ENC") {
      t[i].ns = "http://schemas.xmlsoap.org/soap/encoding/";
      t[i].in = "http://www.w3.org/*/soap-encoding";
    }
  }
  return t;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    std::cerr << "usage: driver ENDPOINT < calls" << std::endl;
    return 2;
  }
  // SOAP_C_UTFSTRING: char strings hold UTF-8 (gSOAP's default is Latin-1).
  Soap11Proxy soap11(argv[1], SOAP_C_UTFSTRING);
  Soap12Proxy soap12(argv[1], SOAP_C_UTFSTRING);
  soap_set_namespaces(soap11.soap, soap11Namespaces());
  soap11.soap->connect_timeout = 10;
  soap11.soap->recv_timeout = 30;
  soap12.soap->connect_timeout = 10;
  soap12.soap->recv_timeout = 30;
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.empty())
      continue;
    std::vector<std::string> f = split(line);
    if (f.size() != 5) {
      std::cerr << "bad input line (want 5 tab-separated fields): " << line << std::endl;
      return 2;
    }
    if (f[1] == "soap11") {
      run(soap11, f);
    } else if (f[1] == "soap12") {
      run(soap12, f);
    } else {
      std::cerr << "unknown binding " << f[1] << std::endl;
      return 2;
    }
  }
  return 0;
}
