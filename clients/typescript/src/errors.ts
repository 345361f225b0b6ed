/**
 * The client's error hierarchy. Every error the client throws on purpose is
 * an `ArdiqError`; each subclass carries `specType`, the error name that
 * SPEC.md and conformance/PROTOCOL.md use in every language.
 */

/** The base class of every error ArdiQ throws on purpose. */
export class ArdiqError extends Error {
  /** The spec's name of this error type, the same in every language. */
  readonly specType: string = 'ArdiqError';

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A user value outside the spec's type table (SPEC.md section 4). */
export class UnsupportedValueError extends ArdiqError {
  override readonly specType = 'UnsupportedValue';

  /** Where the value sits, like `args[1].when`. */
  readonly path: string;

  constructor(path: string, what: string) {
    super(`unsupported value at ${path}: ${what}`);
    this.path = path;
  }
}

/** A task name that is empty or longer than 256 bytes. */
export class InvalidTaskNameError extends ArdiqError {
  override readonly specType = 'InvalidTaskName';
}

/** A job id that is empty, longer than 256 bytes or holds white space. */
export class InvalidJobIdError extends ArdiqError {
  override readonly specType = 'InvalidJobId';
}

/** A priority that is not an integer from 0 to 9. */
export class InvalidPriorityError extends ArdiqError {
  override readonly specType = 'InvalidPriority';
}

/**
 * A delay that is not an integer from 0 to 100 years, a schedule time that
 * is not an integer from 0 to the end of year 9999, or both given.
 */
export class InvalidDelayError extends ArdiqError {
  override readonly specType = 'InvalidDelay';
}

/** A queue name outside SPEC.md section 1's rules. */
export class InvalidQueueNameError extends ArdiqError {
  override readonly specType = 'InvalidQueueName';
}

/**
 * Any other option of the wrong type or range: `maxRetries` beyond 0..1,000,
 * a timeout, backoff or result TTL beyond 0..100 years, an expiry that is
 * not later than now and the job's due time, an unknown option.
 */
export class InvalidOptionError extends ArdiqError {
  override readonly specType = 'InvalidOption';
}

/** A `Job` record over the 1,048,576-byte limit; nothing was written. */
export class PayloadTooLargeError extends ArdiqError {
  override readonly specType = 'PayloadTooLarge';

  /** The size of the encoded record, in bytes. */
  readonly size: number;

  constructor(size: number, limit: number) {
    super(`the job record is ${size} bytes, more than the limit of ${limit} bytes`);
    this.size = size;
  }
}

/** Redis could not be reached, the connection was lost, or Redis is still loading its data. */
export class ConnectionError extends ArdiqError {
  override readonly specType = 'ConnectionError';
}

/** Redis refused the user name or password. */
export class AuthenticationError extends ArdiqError {
  override readonly specType = 'AuthenticationError';
}

/** The client was closed before the call. */
export class NotConnectedError extends ArdiqError {
  override readonly specType = 'NotConnected';
}

/** Bytes from Redis that are not a valid record or value. */
export class MalformedRecordError extends ArdiqError {
  override readonly specType = 'MalformedRecord';
}

/** The job ran and failed; the remote error crossed the language boundary. */
export class JobFailedError extends ArdiqError {
  override readonly specType = 'JobFailed';

  /** The remote exception's type name, e.g. `ValueError`. */
  readonly remoteType: string;
  /** The remote exception's message. */
  readonly remoteMessage: string;
  /** The remote formatted traceback, possibly empty. */
  readonly remoteTraceback: string;

  constructor(jobId: string, remoteType: string, remoteMessage: string, remoteTraceback: string) {
    super(`job ${jobId} failed: ${remoteType}: ${remoteMessage}`);
    this.remoteType = remoteType;
    this.remoteMessage = remoteMessage;
    this.remoteTraceback = remoteTraceback;
  }
}

/**
 * The job was dead-lettered (SPEC.md section 9); `remoteType` is `DeadLetter`
 * and `remoteMessage` holds the reason. A subclass of `JobFailedError`
 * because, to the caller, the job failed for good.
 */
export class JobDeadError extends JobFailedError {}

/** The job was aborted. */
export class JobAbortedError extends ArdiqError {
  override readonly specType = 'JobAborted';
}

/** No worker started the job before its expiry (`expiresMs`): it never ran. */
export class JobExpiredError extends ArdiqError {
  override readonly specType = 'JobExpired';
}

/**
 * The job has no status key: its result expired or was not kept
 * (`resultTtlMs` 0), or no job has this id. A wait ends with it at once.
 */
export class JobNotFoundError extends ArdiqError {
  override readonly specType = 'JobNotFound';
}

/** A wait ran out of time; the job may still finish later. */
export class TimeoutError extends ArdiqError {
  override readonly specType = 'Timeout';
}
