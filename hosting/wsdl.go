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
          <xs:element name="completionException" type="xs:string" minOccurs="0"><xs:annotation><xs:documentation>The name of the exception that faulted the instance.</xs:documentation></xs:annotation></xs:element>
          <xs:element name="suspensionReason" type="xs:string"/>
          <xs:element name="suspensionException" type="xs:string" minOccurs="0"/>
          <xs:element name="definition" type="tns:DefinitionIdentity"/>
          <xs:element name="bookmarks" type="tns:Bookmarks"/>
          <xs:element name="variables" type="xs:string" minOccurs="0"><xs:annotation><xs:documentation>A JSON object: the workflow variables at the last persist. Always sent by GetInstance and ListInstances; by QueryInstances only with includeVariables.</xs:documentation></xs:annotation></xs:element>
          <xs:element name="pendingTimer" type="xs:dateTime" minOccurs="0"/>
          <xs:element name="executionStatus" type="xs:string"/>
          <xs:element name="currentState" type="xs:string" minOccurs="0"><xs:annotation><xs:documentation>The current state of the instance's outermost StateMachine, when it has one.</xs:documentation></xs:annotation></xs:element>
          <xs:element name="correlationKey" type="xs:string" minOccurs="0"><xs:annotation><xs:documentation>The business key the instance is found by, when it has one.</xs:documentation></xs:annotation></xs:element>
          <xs:element name="parent" type="tns:guid" minOccurs="0"><xs:annotation><xs:documentation>The instance whose InvokeWorkflow started this one, when it is a child.</xs:documentation></xs:annotation></xs:element>
          <xs:element name="properties" type="xs:string" minOccurs="0"><xs:annotation><xs:documentation>A JSON object: the promoted properties (name to text) at the last persist, when the definition promotes any.</xs:documentation></xs:annotation></xs:element>
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
      <xs:complexType name="Filter">
        <xs:annotation><xs:documentation>Every element is optional (absent or empty: no condition); the conditions are ANDed.</xs:documentation></xs:annotation>
        <xs:sequence>
          <xs:element name="state" type="xs:string" minOccurs="0"><xs:annotation><xs:documentation>Active, Suspended or Completed.</xs:documentation></xs:annotation></xs:element>
          <xs:element name="completion" type="xs:string" minOccurs="0"><xs:annotation><xs:documentation>Closed, Canceled, Terminated or Faulted.</xs:documentation></xs:annotation></xs:element>
          <xs:element name="definition" type="xs:string" minOccurs="0"><xs:annotation><xs:documentation>The definition's name, exact.</xs:documentation></xs:annotation></xs:element>
          <xs:element name="package" type="xs:string" minOccurs="0"/>
          <xs:element name="version" type="xs:string" minOccurs="0"><xs:annotation><xs:documentation>A System.Version, compared as one: 1.0.0.0 matches 1.00.0.0, not 1.0.</xs:documentation></xs:annotation></xs:element>
          <xs:element name="versionMin" type="xs:string" minOccurs="0"><xs:annotation><xs:documentation>Inclusive, in System.Version order (1.0 &lt; 1.0.0 &lt; 1.0.0.0 &lt; 9.0 &lt; 10.0).</xs:documentation></xs:annotation></xs:element>
          <xs:element name="versionMax" type="xs:string" minOccurs="0"><xs:annotation><xs:documentation>Inclusive.</xs:documentation></xs:annotation></xs:element>
          <xs:element name="exception" type="xs:string" minOccurs="0"><xs:annotation><xs:documentation>The name of the exception that suspended or faulted the instance, exact.</xs:documentation></xs:annotation></xs:element>
          <xs:element name="reasonContains" type="xs:string" minOccurs="0"><xs:annotation><xs:documentation>A substring of the suspension reason (case sensitive).</xs:documentation></xs:annotation></xs:element>
          <xs:element name="bookmark" type="xs:string" minOccurs="0"><xs:annotation><xs:documentation>A bookmark the instance waits on.</xs:documentation></xs:annotation></xs:element>
          <xs:element name="createdAfter" type="xs:dateTime" minOccurs="0"><xs:annotation><xs:documentation>Exclusive, like the other three; a time without a zone is UTC.</xs:documentation></xs:annotation></xs:element>
          <xs:element name="createdBefore" type="xs:dateTime" minOccurs="0"/>
          <xs:element name="updatedAfter" type="xs:dateTime" minOccurs="0"/>
          <xs:element name="updatedBefore" type="xs:dateTime" minOccurs="0"/>
          <xs:element name="correlationKey" type="xs:string" minOccurs="0"><xs:annotation><xs:documentation>The instance with this correlation key.</xs:documentation></xs:annotation></xs:element>
          <xs:element name="currentState" type="xs:string" minOccurs="0"><xs:annotation><xs:documentation>The current state of the instance's outermost StateMachine.</xs:documentation></xs:annotation></xs:element>
          <xs:element name="properties" type="xs:string" minOccurs="0"><xs:annotation><xs:documentation>A JSON object of promoted property names to text values: instances that have every one of them with exactly that value.</xs:documentation></xs:annotation></xs:element>
          <xs:element name="parent" type="tns:guid" minOccurs="0"><xs:annotation><xs:documentation>The children of this instance (started by its InvokeWorkflow activities).</xs:documentation></xs:annotation></xs:element>
          <xs:element name="hasParent" type="xs:boolean" minOccurs="0"><xs:annotation><xs:documentation>true: only child instances.</xs:documentation></xs:annotation></xs:element>
        </xs:sequence>
      </xs:complexType>
      <xs:complexType name="Group">
        <xs:annotation><xs:documentation>One group of CountInstances: the key its groupBy names, and its count.</xs:documentation></xs:annotation>
        <xs:sequence>
          <xs:element name="state" type="xs:string" minOccurs="0"/>
          <xs:element name="definition" type="tns:DefinitionIdentity" minOccurs="0"/>
          <xs:element name="exception" type="xs:string" minOccurs="0"><xs:annotation><xs:documentation>Empty for the instances without an exception.</xs:documentation></xs:annotation></xs:element>
          <xs:element name="count" type="xs:long"/>
        </xs:sequence>
      </xs:complexType>
      <xs:complexType name="Argument">
        <xs:sequence>
          <xs:element name="name" type="xs:string"/>
          <xs:element name="type" type="xs:string"><xs:annotation><xs:documentation>Number, String, Boolean or Object.</xs:documentation></xs:annotation></xs:element>
          <xs:element name="required" type="xs:boolean"/>
          <xs:element name="default" type="xs:string" minOccurs="0"><xs:annotation><xs:documentation>The default's expression as written.</xs:documentation></xs:annotation></xs:element>
        </xs:sequence>
      </xs:complexType>
      <xs:complexType name="Arguments">
        <xs:sequence><xs:element name="argument" type="tns:Argument" minOccurs="0" maxOccurs="unbounded"/></xs:sequence>
      </xs:complexType>
      <xs:complexType name="Identities">
        <xs:sequence><xs:element name="identity" type="tns:DefinitionIdentity" minOccurs="0" maxOccurs="unbounded"/></xs:sequence>
      </xs:complexType>
      <xs:complexType name="Definition">
        <xs:sequence>
          <xs:element name="name" type="xs:string"/>
          <xs:element name="package" type="xs:string"/>
          <xs:element name="version" type="xs:string"/>
          <xs:element name="source" type="xs:string"><xs:annotation><xs:documentation>embedded (a sample built into the server) or file.</xs:documentation></xs:annotation></xs:element>
          <xs:element name="location" type="xs:string"><xs:annotation><xs:documentation>The sample's name in the server (samples/Hello.xml) or the file's path.</xs:documentation></xs:annotation></xs:element>
          <xs:element name="arguments" type="tns:Arguments"/>
          <xs:element name="updatableFrom" type="tns:Identities"><xs:annotation><xs:documentation>The identities whose instances Update may move to this definition.</xs:documentation></xs:annotation></xs:element>
        </xs:sequence>
      </xs:complexType>
      <xs:complexType name="Node">
        <xs:sequence>
          <xs:element name="id" type="xs:string"><xs:annotation><xs:documentation>The node's registration: a new one each time its process starts.</xs:documentation></xs:annotation></xs:element>
          <xs:element name="name" type="xs:string"><xs:annotation><xs:documentation>Its --node-id.</xs:documentation></xs:annotation></xs:element>
          <xs:element name="advertise" type="xs:string" minOccurs="0"><xs:annotation><xs:documentation>The URL other nodes forward its instances' operations to; absent if it advertises none.</xs:documentation></xs:annotation></xs:element>
          <xs:element name="info" type="xs:string" minOccurs="0"/>
          <xs:element name="registered" type="xs:dateTime"/>
          <xs:element name="renewed" type="xs:dateTime"><xs:annotation><xs:documentation>Its last successful lease renewal.</xs:documentation></xs:annotation></xs:element>
          <xs:element name="expiry" type="xs:dateTime"><xs:annotation><xs:documentation>When its registration, and every lease it holds, lapses unless renewed.</xs:documentation></xs:annotation></xs:element>
          <xs:element name="instances" type="xs:int"><xs:annotation><xs:documentation>How many instances' leases it holds.</xs:documentation></xs:annotation></xs:element>
          <xs:element name="self" type="xs:boolean"><xs:annotation><xs:documentation>The node that answered this request.</xs:documentation></xs:annotation></xs:element>
        </xs:sequence>
      </xs:complexType>
      <xs:complexType name="BulkFaultCount">
        <xs:sequence>
          <xs:element name="outcome" type="xs:string"><xs:annotation><xs:documentation>The MS-WFIM fault subcode a single call would have got: InstanceNotFound, InstanceSuspended, InstanceCompleted, InstanceTerminated, UpdateFailed, AccessDenied; Unavailable when the store could not commit; Error otherwise.</xs:documentation></xs:annotation></xs:element>
          <xs:element name="count" type="xs:long"/>
        </xs:sequence>
      </xs:complexType>
      <xs:complexType name="BulkFaultCounts">
        <xs:sequence><xs:element name="fault" type="tns:BulkFaultCount" minOccurs="0" maxOccurs="unbounded"/></xs:sequence>
      </xs:complexType>
      <xs:complexType name="BulkOperation">
        <xs:annotation><xs:documentation>A bulk operation (job): the request it was started with, who started it, its progress.</xs:documentation></xs:annotation>
        <xs:sequence>
          <xs:element name="id" type="tns:guid"/>
          <xs:element name="operation" type="xs:string"/>
          <xs:element name="filter" type="tns:Filter" minOccurs="0"><xs:annotation><xs:documentation>Absent: every instance.</xs:documentation></xs:annotation></xs:element>
          <xs:element name="reason" type="xs:string" minOccurs="0"/>
          <xs:element name="identity" type="tns:DefinitionIdentity" minOccurs="0"/>
          <xs:element name="dryRun" type="xs:boolean"/>
          <xs:element name="ratePerSecond" type="xs:double"><xs:annotation><xs:documentation>As requested; 0 is the default, 100 per second. A dry run is not paced.</xs:documentation></xs:annotation></xs:element>
          <xs:element name="maxInstances" type="xs:long"><xs:annotation><xs:documentation>0: no limit.</xs:documentation></xs:annotation></xs:element>
          <xs:element name="principal" type="xs:string"/>
          <xs:element name="status" type="xs:string"><xs:annotation><xs:documentation>Running, Completed, Canceled or Failed.</xs:documentation></xs:annotation></xs:element>
          <xs:element name="error" type="xs:string" minOccurs="0"><xs:annotation><xs:documentation>Why a Failed job stopped.</xs:documentation></xs:annotation></xs:element>
          <xs:element name="estimate" type="xs:long"><xs:annotation><xs:documentation>The instances the filter selected when the job started (at most maxInstances).</xs:documentation></xs:annotation></xs:element>
          <xs:element name="matched" type="xs:long"><xs:annotation><xs:documentation>Instances of the selection reached so far.</xs:documentation></xs:annotation></xs:element>
          <xs:element name="done" type="xs:long"><xs:annotation><xs:documentation>Of them, handled.</xs:documentation></xs:annotation></xs:element>
          <xs:element name="ok" type="xs:long"><xs:annotation><xs:documentation>Of them, succeeded (in a dry run: would be changed).</xs:documentation></xs:annotation></xs:element>
          <xs:element name="faults" type="tns:BulkFaultCounts"><xs:annotation><xs:documentation>The other handled instances, by outcome.</xs:documentation></xs:annotation></xs:element>
          <xs:element name="created" type="xs:dateTime"/>
          <xs:element name="updated" type="xs:dateTime"/>
        </xs:sequence>
      </xs:complexType>
      <xs:complexType name="BulkItem">
        <xs:annotation><xs:documentation>A bulk operation's result for one instance.</xs:documentation></xs:annotation>
        <xs:sequence>
          <xs:element name="seq" type="xs:long"><xs:annotation><xs:documentation>1, 2, ... in the order the job handled the instances.</xs:documentation></xs:annotation></xs:element>
          <xs:element name="instanceId" type="tns:guid"/>
          <xs:element name="outcome" type="xs:string"><xs:annotation><xs:documentation>ok, or the fault subcode (as BulkFaultCount's).</xs:documentation></xs:annotation></xs:element>
          <xs:element name="detail" type="xs:string" minOccurs="0"><xs:annotation><xs:documentation>Why the instance was refused.</xs:documentation></xs:annotation></xs:element>
          <xs:element name="time" type="xs:dateTime"/>
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
      <xs:element name="CreateWithCorrelationKey">
        <xs:complexType><xs:sequence>
          <xs:element name="correlationKey" type="xs:string"><xs:annotation><xs:documentation>Unique among stored instances (InstanceExists otherwise); it replaces the key the definition's CorrelationKey would compute.</xs:documentation></xs:annotation></xs:element>
          <xs:element name="definition" type="xs:string"/>
          <xs:element name="version" type="xs:string" minOccurs="0"/>
          <xs:element name="inputs" type="tns:Inputs" minOccurs="0"/>
        </xs:sequence></xs:complexType>
      </xs:element>
      <xs:element name="CreateWithCorrelationKeyResponse">
        <xs:complexType><xs:sequence><xs:element name="instanceId" type="tns:guid"/></xs:sequence></xs:complexType>
      </xs:element>
      <xs:element name="ResumeBookmark">
        <xs:complexType><xs:sequence>
          <xs:element name="instanceId" type="tns:guid" minOccurs="0"/>
          <xs:element name="correlationKey" type="xs:string" minOccurs="0"><xs:annotation><xs:documentation>In place of instanceId: the instance with this correlation key.</xs:documentation></xs:annotation></xs:element>
          <xs:element name="bookmark" type="xs:string"/>
          <xs:element name="payload" type="xs:string" minOccurs="0"><xs:annotation><xs:documentation>JSON text.</xs:documentation></xs:annotation></xs:element>
        </xs:sequence></xs:complexType>
      </xs:element>
      <xs:element name="ResumeBookmarkResponse"><xs:complexType><xs:sequence/></xs:complexType></xs:element>
      <xs:element name="GetInstance">
        <xs:complexType><xs:sequence>
          <xs:element name="instanceId" type="tns:guid" minOccurs="0"/>
          <xs:element name="correlationKey" type="xs:string" minOccurs="0"><xs:annotation><xs:documentation>In place of instanceId: the instance with this correlation key.</xs:documentation></xs:annotation></xs:element>
          <xs:element name="waitSeconds" minOccurs="0"><xs:annotation><xs:documentation>Answer once the instance is Completed, or after this many seconds as it then is, whichever comes first (instead of polling).</xs:documentation></xs:annotation>
            <xs:simpleType><xs:restriction base="xs:int"><xs:minInclusive value="0"/><xs:maxInclusive value="30"/></xs:restriction></xs:simpleType></xs:element>
        </xs:sequence></xs:complexType>
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
          <xs:element name="instanceId" type="tns:guid" minOccurs="0"/>
          <xs:element name="correlationKey" type="xs:string" minOccurs="0"><xs:annotation><xs:documentation>In place of instanceId: the instance with this correlation key.</xs:documentation></xs:annotation></xs:element>
          <xs:element name="after" type="xs:long" minOccurs="0"/>
        </xs:sequence></xs:complexType>
      </xs:element>
      <xs:element name="GetTrackingRecordsResponse">
        <xs:complexType><xs:sequence><xs:element name="record" type="tns:TrackingRecord" minOccurs="0" maxOccurs="unbounded"/></xs:sequence></xs:complexType>
      </xs:element>
      <xs:element name="QueryInstances">
        <xs:complexType><xs:sequence>
          <xs:element name="filter" type="tns:Filter" minOccurs="0"/>
          <xs:element name="pageSize" type="xs:int" minOccurs="0"><xs:annotation><xs:documentation>Default 100; at most 1000 (a larger size is taken as 1000).</xs:documentation></xs:annotation></xs:element>
          <xs:element name="pageToken" type="xs:string" minOccurs="0"><xs:annotation><xs:documentation>The nextPageToken of the previous page, unchanged; absent for the first page.</xs:documentation></xs:annotation></xs:element>
          <xs:element name="includeVariables" type="xs:boolean" minOccurs="0"/>
        </xs:sequence></xs:complexType>
      </xs:element>
      <xs:element name="QueryInstancesResponse">
        <xs:complexType><xs:sequence>
          <xs:element name="instance" type="tns:Instance" minOccurs="0" maxOccurs="unbounded"><xs:annotation><xs:documentation>Ordered by created, then id.</xs:documentation></xs:annotation></xs:element>
          <xs:element name="nextPageToken" type="xs:string" minOccurs="0"><xs:annotation><xs:documentation>Absent on the last page.</xs:documentation></xs:annotation></xs:element>
        </xs:sequence></xs:complexType>
      </xs:element>
      <xs:element name="CountInstances">
        <xs:complexType><xs:sequence>
          <xs:element name="filter" type="tns:Filter" minOccurs="0"/>
          <xs:element name="groupBy" type="xs:string" minOccurs="0"><xs:annotation><xs:documentation>none (the default), state, definition or exception.</xs:documentation></xs:annotation></xs:element>
        </xs:sequence></xs:complexType>
      </xs:element>
      <xs:element name="CountInstancesResponse">
        <xs:complexType><xs:sequence>
          <xs:element name="total" type="xs:long"/>
          <xs:element name="group" type="tns:Group" minOccurs="0" maxOccurs="unbounded"/>
        </xs:sequence></xs:complexType>
      </xs:element>
      <xs:element name="GetDefinitions"><xs:complexType><xs:sequence/></xs:complexType></xs:element>
      <xs:element name="GetDefinitionsResponse">
        <xs:complexType><xs:sequence><xs:element name="definition" type="tns:Definition" minOccurs="0" maxOccurs="unbounded"/></xs:sequence></xs:complexType>
      </xs:element>
      <xs:element name="StartBulkOperation">
        <xs:annotation><xs:documentation>Starts a durable job that applies an MS-WFIM operation to every instance the filter selects, one at a time, each decided by the MS-WFIM state table as a single call; needs the admin role.</xs:documentation></xs:annotation>
        <xs:complexType><xs:sequence>
          <xs:element name="operation" type="xs:string"><xs:annotation><xs:documentation>Suspend, Unsuspend, Run, Cancel, Terminate, Abandon or Update.</xs:documentation></xs:annotation></xs:element>
          <xs:element name="filter" type="tns:Filter" minOccurs="0"><xs:annotation><xs:documentation>As QueryInstances'; absent: every instance.</xs:documentation></xs:annotation></xs:element>
          <xs:element name="reason" type="xs:string" minOccurs="0"><xs:annotation><xs:documentation>Suspend's, Terminate's or Abandon's reason.</xs:documentation></xs:annotation></xs:element>
          <xs:element name="identity" type="tns:DefinitionIdentity" minOccurs="0"><xs:annotation><xs:documentation>Update's target; required for Update.</xs:documentation></xs:annotation></xs:element>
          <xs:element name="dryRun" type="xs:boolean" minOccurs="0"><xs:annotation><xs:documentation>Decide each instance's outcome and change nothing.</xs:documentation></xs:annotation></xs:element>
          <xs:element name="ratePerSecond" type="xs:double" minOccurs="0"><xs:annotation><xs:documentation>At most this many instances per second; absent or 0: 100.</xs:documentation></xs:annotation></xs:element>
          <xs:element name="maxInstances" type="xs:long" minOccurs="0"><xs:annotation><xs:documentation>The job ends after this many instances; absent or 0: no limit.</xs:documentation></xs:annotation></xs:element>
        </xs:sequence></xs:complexType>
      </xs:element>
      <xs:element name="StartBulkOperationResponse">
        <xs:complexType><xs:sequence><xs:element name="job" type="tns:BulkOperation"/></xs:sequence></xs:complexType>
      </xs:element>
      <xs:element name="GetBulkOperation">
        <xs:complexType><xs:sequence>
          <xs:element name="jobId" type="tns:guid"/>
          <xs:element name="itemsAfter" type="xs:long" minOccurs="0"><xs:annotation><xs:documentation>The previous page's nextItemsAfter; absent or 0: from the first.</xs:documentation></xs:annotation></xs:element>
          <xs:element name="itemsLimit" type="xs:int" minOccurs="0"><xs:annotation><xs:documentation>Absent: 100; 0: none (the job only); at most 1000 (a larger limit is taken as 1000).</xs:documentation></xs:annotation></xs:element>
        </xs:sequence></xs:complexType>
      </xs:element>
      <xs:element name="GetBulkOperationResponse">
        <xs:complexType><xs:sequence>
          <xs:element name="job" type="tns:BulkOperation"/>
          <xs:element name="item" type="tns:BulkItem" minOccurs="0" maxOccurs="unbounded"><xs:annotation><xs:documentation>In seq order.</xs:documentation></xs:annotation></xs:element>
          <xs:element name="nextItemsAfter" type="xs:long"><xs:annotation><xs:documentation>The last item's seq, or itemsAfter when there is none: the itemsAfter of the next call.</xs:documentation></xs:annotation></xs:element>
        </xs:sequence></xs:complexType>
      </xs:element>
      <xs:element name="CancelBulkOperation">
        <xs:annotation><xs:documentation>Stops a running job where it is (what it did stays done); a job that has ended is returned as it is. Needs the admin role.</xs:documentation></xs:annotation>
        <xs:complexType><xs:sequence><xs:element name="jobId" type="tns:guid"/></xs:sequence></xs:complexType>
      </xs:element>
      <xs:element name="CancelBulkOperationResponse">
        <xs:complexType><xs:sequence><xs:element name="job" type="tns:BulkOperation"/></xs:sequence></xs:complexType>
      </xs:element>
      <xs:element name="Purge">
        <xs:annotation><xs:documentation>Deletes the Completed instances the filter selects, with their tracking records; Active and Suspended instances are never deleted (a filter whose state is Active or Suspended is an InvalidArgument fault). Needs the admin role.</xs:documentation></xs:annotation>
        <xs:complexType><xs:sequence>
          <xs:element name="filter" type="tns:Filter" minOccurs="0"><xs:annotation><xs:documentation>As QueryInstances'; absent: every Completed instance.</xs:documentation></xs:annotation></xs:element>
          <xs:element name="dryRun" type="xs:boolean" minOccurs="0"><xs:annotation><xs:documentation>Count and delete nothing.</xs:documentation></xs:annotation></xs:element>
        </xs:sequence></xs:complexType>
      </xs:element>
      <xs:element name="PurgeResponse">
        <xs:complexType><xs:sequence>
          <xs:element name="purged" type="xs:long"><xs:annotation><xs:documentation>Completed instances deleted (in a dry run: that would be).</xs:documentation></xs:annotation></xs:element>
          <xs:element name="live" type="xs:long"><xs:annotation><xs:documentation>Active and Suspended instances the filter selected, left alone.</xs:documentation></xs:annotation></xs:element>
        </xs:sequence></xs:complexType>
      </xs:element>
      <xs:element name="GetNodes">
        <xs:annotation><xs:documentation>Lists the live nodes sharing the server's store (one on SQLite), each with the number of instance leases it holds.</xs:documentation></xs:annotation>
        <xs:complexType><xs:sequence/></xs:complexType>
      </xs:element>
      <xs:element name="GetNodesResponse">
        <xs:complexType><xs:sequence><xs:element name="node" type="tns:Node" minOccurs="0" maxOccurs="unbounded"/></xs:sequence></xs:complexType>
      </xs:element>
    </xs:schema>`

// WSDL renders the hosting contract's WSDL with SOAP 1.1 and 1.2 bindings and a service whose
// ports are at serviceURL. Faults (see the fault constants) are SOAP faults with subcodes and
// are not declared as wsdl:fault, as in MS-WFIM.
func WSDL(serviceURL string) []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>
<wsdl:definitions name="WorkflowHosting" targetNamespace="` + NS + `" xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" xmlns:soap12="http://schemas.xmlsoap.org/wsdl/soap12/" xmlns:wsaw="http://www.w3.org/2006/05/addressing/wsdl" xmlns:tns="` + NS + `">
  <wsdl:documentation>wimp's hosting contract: create workflow instances, resume their bookmarks, read instances and their tracking records, query and count instances by filter, list the registered definitions, apply an MS-WFIM operation to every instance a filter selects (bulk operations), purge completed instances, list the nodes sharing the store. Instance conditions fault with the MS-WFIM subcodes (http://schemas.datacontract.org/2008/10/WorkflowServices: InstanceNotFound, InstanceSuspended, InstanceCompleted, InstanceTerminated); contract errors with subcodes in ` + NS + `: DefinitionNotFound, InvalidInput, InstanceExists, BookmarkNotFound, InvalidArgument, BulkOperationNotFound; a caller without the operation's role gets WCF's AccessDenied (http://schemas.microsoft.com/net/2005/12/windowscommunicationfoundation/dispatcher).</wsdl:documentation>
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
