"""The classes of spec/proto/ardiq/v1/records.proto, built by the installed protobuf runtime.

Not protoc's Python output: that module checks the runtime against the protoc
that wrote it and refuses an older one, so an application pinned to an older
protobuf major could not install this client. Here the runtime builds the
classes from the file's descriptor (``records_descriptor.py``, protoc's bytes)
through API that every runtime from 4.22 to 7.x has (``DescriptorPool``,
``message_factory.GetMessageClass``, and the ``EnumTypeWrapper`` of protoc's own
output). ``records_pb2.pyi`` holds protoc's stubs; ``generate_proto.py``
writes both generated files, and a test checks them.
"""

from google.protobuf import descriptor_pool, message_factory
from google.protobuf.internal import enum_type_wrapper

from ardiq_client._proto.records_descriptor import NAME, SERIALIZED

# A pool of its own: the application's default pool may hold other files of the same names.
_POOL = descriptor_pool.DescriptorPool()
_POOL.AddSerializedFile(SERIALIZED)
DESCRIPTOR = _POOL.FindFileByName(NAME)

Job = message_factory.GetMessageClass(DESCRIPTOR.message_types_by_name["Job"])
Error = message_factory.GetMessageClass(DESCRIPTOR.message_types_by_name["Error"])
Status = message_factory.GetMessageClass(DESCRIPTOR.message_types_by_name["Status"])
DeadLetter = message_factory.GetMessageClass(DESCRIPTOR.message_types_by_name["DeadLetter"])
Heartbeat = message_factory.GetMessageClass(DESCRIPTOR.message_types_by_name["Heartbeat"])
Progress = message_factory.GetMessageClass(DESCRIPTOR.message_types_by_name["Progress"])
Failure = message_factory.GetMessageClass(DESCRIPTOR.message_types_by_name["Failure"])

State = enum_type_wrapper.EnumTypeWrapper(DESCRIPTOR.enum_types_by_name["State"])
STATE_UNSPECIFIED = State.Value("STATE_UNSPECIFIED")
STATE_QUEUED = State.Value("STATE_QUEUED")
STATE_SCHEDULED = State.Value("STATE_SCHEDULED")
STATE_RUNNING = State.Value("STATE_RUNNING")
STATE_COMPLETE = State.Value("STATE_COMPLETE")
STATE_FAILED = State.Value("STATE_FAILED")
STATE_ABORTED = State.Value("STATE_ABORTED")
STATE_DEAD = State.Value("STATE_DEAD")
STATE_EXPIRED = State.Value("STATE_EXPIRED")
