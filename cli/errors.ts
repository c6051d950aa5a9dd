// Error kinds the top-level catch in main.ts maps to exit statuses.

/** Bad input or an environment that cannot run the command: exit status 2. */
export class UsageError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The native build (library or a program) is missing: exit status 2. */
export class NativeMissingError extends UsageError {
  constructor(message: string) {
    super(message);
    this.name = 'NativeMissingError';
  }
}

/** Every run of a command failed, so there is nothing to report: exit 1. */
export class RunFailedError extends Error {
  readonly exitCode = 1;
  constructor(message: string) {
    super(message);
    this.name = 'RunFailedError';
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
