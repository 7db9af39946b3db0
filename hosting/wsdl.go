package hosting

import (
	"fmt"
	"strings"
)

// schema describes the contract's body elements (document/literal, wrapped, qualified).
const schema = `<xs:schema targetNamespace="` + NS + `" elementFormDefault="qualified" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:tns="` + NS + `">
      <xs:simpleType name="guid">
        <xs:restriction base="xs:string">
          <xs:pattern value="[\da-fA-F]{8}-[\da-fA-F]{4}-[\da-fA-F]{4}-[\da-fA-F]{4}-[\da-fA-F]{12}"/>
        </xs:restriction>
      </xs:simpleType>
      <xs:complexType name="Input">
        <xs:annotation><xs:documentation>A workflow input argument; value is JSON text (1500, "alice", true).</xs:documentation></xs:annotation>
        <xs:sequence>
          <xs:element name="name" type="xs:string"/>
          <xs:element name="value" type="xs:string"/>
        </xs:sequence>
      </xs:complexType>
      <xs:complexType name="Inputs">
        <xs:sequence><xs:element name="input" type="tns:Input" minOccurs="0" maxOccurs="unbounded"/></xs:sequence>
      </xs:complexType>
      <xs:complexType name="DefinitionIdentity">
        <xs:sequence>
          <xs:element name="name" type="xs:string"/>
          <xs:element name="package" type="xs:string"/>
          <xs:element name="version" type="xs:string"/>
        </xs:sequence>
      </xs:complexType>
      <xs:complexType name="Bookmarks">
        <xs:sequence><xs:element name="bookmark" type="xs:string" minOccurs="0" maxOccurs="unbounded"/></xs:sequence>
      </xs:complexType>
      <xs:complexType name="Instance">
        <xs:sequence>
          <xs:element name="id" type="tns:guid"/>
          <xs:element name="state" type="xs:string"><xs:annotation><xs:documentation>Active, Suspended or Completed.</xs:documentation></xs:annotation></xs:element>
          <xs:element name="completion" type="xs:string"><xs:annotation><xs:documentation>Empty, Closed, Canceled, Terminated or Faulted.</xs:documentation></xs:annotation></xs:element>
          <xs:element name="completionReason" type="xs:string" minOccurs="0"/>
          <xs:element name="suspensionReason" type="xs:string"/>
          <xs:element name="suspensionException" type="xs:string" minOccurs="0"/>
          <xs:element name="definition" type="tns:DefinitionIdentity"/>
          <xs:element name="bookmarks" type="tns:Bookmarks"/>
          <xs:element name="variables" type="xs:string"><xs:annotation><xs:documentation>A JSON object: the workflow variables at the last persist.</xs:documentation></xs:annotation></xs:element>
          <xs:element name="pendingTimer" type="xs:dateTime" minOccurs="0"/>
          <xs:element name="executionStatus" type="xs:string"/>
          <xs:element name="created" type="xs:dateTime"/>
          <xs:element name="updated" type="xs:dateTime"/>
        </xs:sequence>
      </xs:complexType>
      <xs:complexType name="TrackingRecord">
        <xs:sequence>
          <xs:element name="seq" type="xs:long"/>
          <xs:element name="time" type="xs:dateTime"/>
          <xs:element name="kind" type="xs:string"><xs:annotation><xs:documentation>Instance, Activity or Bookmark.</xs:documentation></xs:annotation></xs:element>
          <xs:element name="name" type="xs:string"/>
          <xs:element name="activity" type="xs:string" minOccurs="0"/>
          <xs:element name="reason" type="xs:string" minOccurs="0"/>
          <xs:element name="principal" type="xs:string" minOccurs="0"/>
          <xs:element name="data" type="xs:string" minOccurs="0"/>
        </xs:sequence>
      </xs:complexType>
      <xs:element name="Create">
        <xs:complexType><xs:sequence>
          <xs:element name="definition" type="xs:string"/>
          <xs:element name="version" type="xs:string" minOccurs="0"/>
          <xs:element name="inputs" type="tns:Inputs" minOccurs="0"/>
        </xs:sequence></xs:complexType>
      </xs:element>
      <xs:element name="CreateResponse">
        <xs:complexType><xs:sequence><xs:element name="instanceId" type="tns:guid"/></xs:sequence></xs:complexType>
      </xs:element>
      <xs:element name="CreateWithInstanceId">
        <xs:complexType><xs:sequence>
          <xs:element name="instanceId" type="tns:guid"/>
          <xs:element name="definition" type="xs:string"/>
          <xs:element name="version" type="xs:string" minOccurs="0"/>
          <xs:element name="inputs" type="tns:Inputs" minOccurs="0"/>
        </xs:sequence></xs:complexType>
      </xs:element>
      <xs:element name="CreateWithInstanceIdResponse"><xs:complexType><xs:sequence/></xs:complexType></xs:element>
      <xs:element name="ResumeBookmark">
        <xs:complexType><xs:sequence>
          <xs:element name="instanceId" type="tns:guid"/>
          <xs:element name="bookmark" type="xs:string"/>
          <xs:element name="payload" type="xs:string" minOccurs="0"><xs:annotation><xs:documentation>JSON text.</xs:documentation></xs:annotation></xs:element>
        </xs:sequence></xs:complexType>
      </xs:element>
      <xs:element name="ResumeBookmarkResponse"><xs:complexType><xs:sequence/></xs:complexType></xs:element>
      <xs:element name="GetInstance">
        <xs:complexType><xs:sequence><xs:element name="instanceId" type="tns:guid"/></xs:sequence></xs:complexType>
      </xs:element>
      <xs:element name="GetInstanceResponse">
        <xs:complexType><xs:sequence><xs:element name="instance" type="tns:Instance"/></xs:sequence></xs:complexType>
      </xs:element>
      <xs:element name="ListInstances">
        <xs:complexType><xs:sequence>
          <xs:element name="state" type="xs:string" minOccurs="0"/>
          <xs:element name="limit" type="xs:int" minOccurs="0"/>
        </xs:sequence></xs:complexType>
      </xs:element>
      <xs:element name="ListInstancesResponse">
        <xs:complexType><xs:sequence><xs:element name="instance" type="tns:Instance" minOccurs="0" maxOccurs="unbounded"/></xs:sequence></xs:complexType>
      </xs:element>
      <xs:element name="GetTrackingRecords">
        <xs:complexType><xs:sequence>
          <xs:element name="instanceId" type="tns:guid"/>
          <xs:element name="after" type="xs:long" minOccurs="0"/>
        </xs:sequence></xs:complexType>
      </xs:element>
      <xs:element name="GetTrackingRecordsResponse">
        <xs:complexType><xs:sequence><xs:element name="record" type="tns:TrackingRecord" minOccurs="0" maxOccurs="unbounded"/></xs:sequence></xs:complexType>
      </xs:element>
    </xs:schema>`

// WSDL renders the hosting contract's WSDL with SOAP 1.1 and 1.2 bindings and a service whose
// ports are at serviceURL. Faults (see the fault constants) are SOAP faults with subcodes and
// are not declared as wsdl:fault, as in MS-WFIM.
func WSDL(serviceURL string) []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>
<wsdl:definitions name="WorkflowHosting" targetNamespace="` + NS + `" xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" xmlns:soap12="http://schemas.xmlsoap.org/wsdl/soap12/" xmlns:wsaw="http://www.w3.org/2006/05/addressing/wsdl" xmlns:tns="` + NS + `">
  <wsdl:documentation>wimp's hosting contract: create workflow instances, resume their bookmarks, read instances and their tracking records. Instance conditions fault with the MS-WFIM subcodes (http://schemas.datacontract.org/2008/10/WorkflowServices: InstanceNotFound, InstanceSuspended, InstanceCompleted, InstanceTerminated); contract errors with subcodes in ` + NS + `: DefinitionNotFound, InvalidInput, InstanceExists, BookmarkNotFound, InvalidArgument.</wsdl:documentation>
  <wsdl:types>
    ` + schema + `
  </wsdl:types>
`)
	for _, op := range opNames {
		for _, dir := range []string{"", "Response"} {
			fmt.Fprintf(&b, "  <wsdl:message name=\"IWorkflowHosting_%s_%sMessage\"><wsdl:part name=\"parameters\" element=\"tns:%s%s\"/></wsdl:message>\n",
				op, map[string]string{"": "Input", "Response": "Output"}[dir], op, dir)
		}
	}
	b.WriteString("  <wsdl:portType name=\"IWorkflowHosting\">\n")
	for _, op := range opNames {
		fmt.Fprintf(&b, "    <wsdl:operation name=\"%s\">\n      <wsdl:input wsaw:Action=\"%s\" message=\"tns:IWorkflowHosting_%s_InputMessage\"/>\n      <wsdl:output wsaw:Action=\"%s\" message=\"tns:IWorkflowHosting_%s_OutputMessage\"/>\n    </wsdl:operation>\n",
			op, Action(op), op, ReplyAction(op), op)
	}
	b.WriteString("  </wsdl:portType>\n")
	for _, p := range []string{"soap", "soap12"} {
		fmt.Fprintf(&b, "  <wsdl:binding name=\"%sBinding_IWorkflowHosting\" type=\"tns:IWorkflowHosting\">\n    <%s:binding transport=\"http://schemas.xmlsoap.org/soap/http\"/>\n", strings.ToUpper(p[:1])+p[1:], p)
		for _, op := range opNames {
			fmt.Fprintf(&b, "    <wsdl:operation name=\"%s\">\n      <%s:operation soapAction=\"%s\" style=\"document\"/>\n      <wsdl:input><%s:body use=\"literal\"/></wsdl:input>\n      <wsdl:output><%s:body use=\"literal\"/></wsdl:output>\n    </wsdl:operation>\n",
				op, p, Action(op), p, p)
		}
		b.WriteString("  </wsdl:binding>\n")
	}
	loc := xmlAttrEscape(serviceURL)
	b.WriteString(`  <wsdl:service name="WorkflowHostingService">
    <wsdl:port name="SoapBinding_IWorkflowHosting" binding="tns:SoapBinding_IWorkflowHosting"><soap:address location="` + loc + `"/></wsdl:port>
    <wsdl:port name="Soap12Binding_IWorkflowHosting" binding="tns:Soap12Binding_IWorkflowHosting"><soap12:address location="` + loc + `"/></wsdl:port>
  </wsdl:service>
</wsdl:definitions>
`)
	return []byte(b.String())
}

var xmlAttrEscape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace
