/**
 * `make` run once and its promise shared by every caller; a rejection is not kept, so the next caller runs
 * `make` again. For what is built or loaded on first use and may fail for a while (a client whose credential is
 * missing, a module that failed to load): the failure is that call's, never every later call's.
 */
export const onceUntilRejected = <T>(make: () => Promise<T>): (() => Promise<T>) => {
  let pending: Promise<T> | null = null;
  return () => {
    pending ??= make().catch((err: unknown) => {
      pending = null;
      throw err;
    });
    return pending;
  };
};
