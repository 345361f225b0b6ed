/**
 * ArdiQ's TypeScript producer client: enqueue jobs for ArdiQ workers on
 * Redis streams, read their status, progress and results, and abort them.
 */
export {
  ArdiqClient,
  DEFAULT_RESULT_TTL_MS,
  Job,
  createClient,
  type AbortOptions,
  type AbortOutcome,
  type ClientOptions,
  type EnqueueOutcome,
  type JobState,
  type Progress,
  type ResultOptions,
} from './client.js';
export {
  DEFAULT_COMMAND_TIMEOUT_MS,
  DEFAULT_CONNECT_TIMEOUT_MS,
  RedisCommandError,
} from './connection.js';
export {
  DEFAULT_PRIORITY,
  MAX_BATCH,
  MAX_DURATION_MS,
  MAX_NAME_BYTES,
  MAX_QUEUE_BYTES,
  MAX_RECORD_BYTES,
  MAX_RETRIES,
  MAX_SCHEDULE_MS,
  buildEnqueue,
  type EnqueueCall,
  type EnqueueOptions,
  type JobSpec,
} from './enqueue.js';
export {
  ArdiqError,
  AuthenticationError,
  ConnectionError,
  InvalidDelayError,
  InvalidJobIdError,
  InvalidOptionError,
  InvalidPriorityError,
  InvalidQueueNameError,
  InvalidTaskNameError,
  JobAbortedError,
  JobDeadError,
  JobExpiredError,
  JobFailedError,
  JobNotFoundError,
  MalformedRecordError,
  NotConnectedError,
  PayloadTooLargeError,
  TimeoutError,
  UnsupportedValueError,
} from './errors.js';
export { newJobId } from './jobId.js';
export { PRIORITY_LEVELS, QueueKeys } from './keys.js';
export {
  RECORD_VERSION,
  RECORD_VERSION_1_1,
  SPEC_VERSION,
  State,
  decodeJob,
  decodeStatus,
  encodeJob,
  encodeStatus,
  type ErrorRecord,
  type JobRecord,
  type ProgressRecord,
  type StatusRecord,
} from './records.js';
export { SCRIPT_SOURCES } from './scripts.generated.js';
export { MAX_DEPTH, decodeValue, encodeValue, type Value } from './value.js';
export { VERSION } from './version.js';
export {
  MAX_PAGE,
  type JobPage,
  type LevelInfo,
  type ListState,
  type ListedJob,
  type QueueInfo,
  type WorkerInfo,
} from './inspect.js';
export {
  decodeDeadLetter,
  decodeFailure,
  decodeHeartbeat,
  type EndedRecord,
  type HeartbeatRecord,
} from './records.js';
export { FALLBACK_POLL_MS } from './wait.js';
