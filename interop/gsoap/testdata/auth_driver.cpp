// testdata/auth_driver.cpp: calls MS-WFIM operations with credentials through the C++ proxy
// classes that gSOAP (wsdl2h -t typemap.dat -Nwfim, soapcpp2 -C -j -x, with wsse.h imported)
// generated from wimp-server's own WSDL, over HTTPS, and reports what gSOAP saw. It decides
// nothing: the Go test (interop/auth_gsoap_test.go) builds it, feeds it calls and judges the
// outcomes.
//
// Usage: auth_driver ENDPOINT CA_FILE < calls
//
// The server is verified with CA_FILE only (soap_ssl_client_context with
// SOAP_SSL_REQUIRE_SERVER_AUTHENTICATION: the chain and the host name), TLS 1.2 or later.
//
// One call per input line, tab-separated fields:
//
//	SEQ  BINDING  AUTH  USER  PASSWORD  OP  ID  REASON
//
// BINDING: soap11 (the proxy of the WSDL's SOAP 1.1 binding) or soap12 (its SOAP 1.2
// binding). AUTH: basic (HTTP Basic: soap->userid and soap->passwd, which gSOAP sends
// with the request), wsse (the wsse plugin: soap_wsse_add_Security, soap_wsse_add_Timestamp
// with a five-minute lifetime and soap_wsse_add_UsernameTokenText) or none (no credentials).
// OP: Suspend or Terminate (the reason is REASON). Text fields use \t, \n and \\ escapes.
//
// One JSON line per call on stdout:
//
//	{"seq":N,"binding":B,"auth":A,"op":OP,"error":E,"http":S,"version":V,
//	 "faultcode":..,"code":..,"subcode":..,"faultSubcode":..,"reason":..,"authrealm":..}
//
// error is the proxy method's return value (0 = SOAP_OK, 12 = SOAP_FAULT, an HTTP status
// such as 401 for an HTTP error reply, others are gSOAP errors), http the HTTP status gSOAP
// received, version soap->version after the call, faultcode soap->fault->faultcode (SOAP
// 1.1), code and subcode SOAP-ENV:Code/Value and Code/Subcode/Value (SOAP 1.2),
// faultSubcode soap_fault_subcode(), reason soap_fault_string() (for other errors gSOAP's
// message) and authrealm soap->authrealm (the realm of a WWW-Authenticate: Basic challenge).
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "soapDefaultBinding_USCOREIWorkflowInstanceManagementProxy.h"
#include "soapSoap12Binding_USCOREIWorkflowInstanceManagementProxy.h"
#include "DefaultBinding_USCOREIWorkflowInstanceManagement.nsmap"
#include "wsseapi.h"

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
        out += (char)*p;
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
    f.push_back(unescape(line.substr(start, tab == std::string::npos ? std::string::npos : tab - start)));
    if (tab == std::string::npos)
      return f;
    start = tab + 1;
  }
}

static const int unknownOp = -1000; // not a gSOAP error code

template <class P>
static int call(P &proxy, const std::string &op, std::string &id, std::string &reason) {
  if (op == "Suspend") {
    _wfs__Suspend req;
    _wfs__SuspendResponse resp;
    req.instanceId = (char *)id.c_str();
    req.reason = &reason;
    return proxy.Suspend(&req, resp);
  }
  if (op == "Terminate") {
    _wfs__Terminate req;
    _wfs__TerminateResponse resp;
    req.instanceId = (char *)id.c_str();
    req.reason = &reason;
    return proxy.Terminate(&req, resp);
  }
  return unknownOp;
}

// run makes one call through proxy with the credentials the line names.
template <class P>
static void run(P &proxy, const std::vector<std::string> &f) {
  const std::string &seq = f[0], &binding = f[1], &auth = f[2], &user = f[3], &password = f[4], &op = f[5];
  std::string id = f[6], reason = f[7];
  struct soap *soap = proxy.soap;
  soap->userid = NULL;
  soap->passwd = NULL;
  soap_wsse_delete_Security(soap);
  if (auth == "basic") {
    soap->userid = user.c_str();
    soap->passwd = password.c_str();
  } else if (auth == "wsse") {
    soap_wsse_add_Security(soap);
    soap_wsse_add_Timestamp(soap, "Time", 300);
    soap_wsse_add_UsernameTokenText(soap, "User", user.c_str(), password.c_str());
  } else if (auth != "none") {
    std::cerr << "unknown auth " << auth << std::endl;
    exit(2);
  }
  int err = call(proxy, op, id, reason);
  if (err == unknownOp) {
    std::cerr << "unknown operation " << op << std::endl;
    exit(2);
  }
  const char *faultcode = NULL, *code = NULL, *subcode = NULL, *faultSubcode = NULL, *text = NULL;
  if (err == SOAP_FAULT && soap->fault != NULL) {
    SOAP_ENV__Fault *fault = soap->fault;
    faultcode = fault->faultcode;
    if (fault->SOAP_ENV__Code != NULL) {
      code = fault->SOAP_ENV__Code->SOAP_ENV__Value;
      if (fault->SOAP_ENV__Code->SOAP_ENV__Subcode != NULL)
        subcode = fault->SOAP_ENV__Code->SOAP_ENV__Subcode->SOAP_ENV__Value;
    }
    faultSubcode = soap_fault_subcode(soap);
    text = soap_fault_string(soap);
  } else if (err != SOAP_OK) {
    text = soap_fault_string(soap);
  }
  std::cout << "{\"seq\":" << seq << ",\"binding\":" << json(binding.c_str()) << ",\"auth\":" << json(auth.c_str())
            << ",\"op\":" << json(op.c_str()) << ",\"error\":" << err << ",\"http\":" << soap->status
            << ",\"version\":" << soap->version << ",\"faultcode\":" << json(faultcode) << ",\"code\":" << json(code)
            << ",\"subcode\":" << json(subcode) << ",\"faultSubcode\":" << json(faultSubcode)
            << ",\"reason\":" << json(text) << ",\"authrealm\":" << json(soap->authrealm) << "}" << std::endl;
  soap->userid = NULL;
  soap->passwd = NULL;
  soap_wsse_delete_Security(soap);
  proxy.destroy();
}

// soap11Namespaces: the generated table with SOAP 1.1's envelope and encoding namespaces
// (as in driver.cpp: wsdl2h makes the shared table SOAP 1.2).
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

// setup gives a proxy's context the CA, the wsse plugin and timeouts.
static void setup(struct soap *soap, const char *cafile) {
  if (soap_ssl_client_context(soap, SOAP_SSL_REQUIRE_SERVER_AUTHENTICATION | SOAP_TLSv1_2 | SOAP_TLSv1_3, NULL, NULL,
                              cafile, NULL, NULL)) {
    soap_stream_fault(soap, std::cerr);
    exit(2);
  }
  if (soap_register_plugin(soap, soap_wsse)) {
    soap_stream_fault(soap, std::cerr);
    exit(2);
  }
  soap->connect_timeout = 10;
  soap->recv_timeout = 30;
  soap->send_timeout = 30;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    std::cerr << "usage: auth_driver ENDPOINT CA_FILE < calls" << std::endl;
    return 2;
  }
  soap_ssl_init();
  Soap11Proxy soap11(argv[1], SOAP_C_UTFSTRING);
  Soap12Proxy soap12(argv[1], SOAP_C_UTFSTRING);
  soap_set_namespaces(soap11.soap, soap11Namespaces());
  setup(soap11.soap, argv[2]);
  setup(soap12.soap, argv[2]);
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.empty())
      continue;
    std::vector<std::string> f = split(line);
    if (f.size() != 8) {
      std::cerr << "bad input line (want 8 tab-separated fields): " << line << std::endl;
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
