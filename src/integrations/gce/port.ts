/**
 * Compute Engine and Cloud Logging, in domain terms. Adapters (adapter.ts) implement these with the real
 * Google Cloud clients; no SDK type crosses this file. Timestamps are RFC 3339 strings as the APIs give them.
 */

export interface InstanceRef {
  readonly project: string;
  readonly zone: string;
  readonly name: string;
}

export interface InstanceScheduling {
  readonly automaticRestart: boolean | null;
  readonly onHostMaintenance: string | null; // MIGRATE | TERMINATE
  readonly preemptible: boolean | null;
  readonly provisioningModel: string | null; // STANDARD | SPOT
  readonly instanceTerminationAction: string | null;
}

export interface UpcomingMaintenance {
  readonly type: string | null;
  readonly windowStartTime: string | null;
  readonly windowEndTime: string | null;
  readonly canReschedule: boolean | null;
}

export interface InstanceDisk {
  readonly deviceName: string | null;
  readonly boot: boolean;
  readonly source: string | null; // disk URL
  readonly diskSizeGb: number | null;
}

export interface InstanceNic {
  readonly network: string | null; // URL
  readonly subnetwork: string | null; // URL
  readonly hasExternalIp: boolean;
}

export interface InstanceInfo extends InstanceRef {
  readonly id: string; // uint64 as a decimal string
  readonly status: string; // RUNNING | TERMINATED | STOPPING | ...
  readonly machineType: string | null; // short name, e.g. e2-medium
  readonly creationTimestamp: string | null;
  readonly lastStartTimestamp: string | null;
  readonly lastStopTimestamp: string | null;
  readonly lastSuspendedTimestamp: string | null;
  readonly scheduling: InstanceScheduling;
  readonly upcomingMaintenance: UpcomingMaintenance | null;
  readonly labels: Readonly<Record<string, string>>;
  readonly disks: readonly InstanceDisk[];
  readonly networkInterfaces: readonly InstanceNic[];
  readonly selfLink: string | null;
}

export interface SerialPortChunk {
  readonly contents: string;
  readonly start: number; // byte offset of contents[0] in the port's output since boot of the buffer
  readonly next: number; // offset to ask for next time
}

export interface ComputePort {
  /** instances.get; null when the instance does not exist (404). */
  getInstance(ref: InstanceRef, signal?: AbortSignal): Promise<InstanceInfo | null>;
  /** aggregatedList with `name = "<name>"` over every zone of the project; every page. */
  findInstancesByName(project: string, name: string, signal?: AbortSignal): Promise<InstanceInfo[]>;
  /** serialPort output of port 1. A negative start reads the last |start| bytes. */
  getSerialPortOutput(ref: InstanceRef, start: number, signal?: AbortSignal): Promise<SerialPortChunk>;
  /** disks.get: the image a boot disk was created from (URL), or null. */
  getDiskSourceImage(
    project: string,
    zone: string,
    disk: string,
    signal?: AbortSignal,
  ): Promise<string | null>;
}

/** A Cloud Logging LogEntry as JSON (the v2 REST representation). */
export interface LogEntry {
  readonly logName: string;
  readonly timestamp: string;
  readonly receiveTimestamp?: string;
  readonly insertId?: string;
  readonly severity?: string;
  readonly resource?: { readonly type?: string; readonly labels?: Readonly<Record<string, string>> };
  readonly labels?: Readonly<Record<string, string>>;
  readonly operation?: {
    readonly id?: string;
    readonly producer?: string;
    readonly first?: boolean;
    readonly last?: boolean;
  };
  readonly protoPayload?: Readonly<Record<string, unknown>>;
  readonly jsonPayload?: Readonly<Record<string, unknown>>;
  readonly textPayload?: string;
}

export interface ListEntriesRequest {
  readonly resourceNames: readonly string[]; // e.g. ["projects/P"]
  readonly filter: string; // must carry explicit timestamp bounds
  readonly orderBy?: 'timestamp asc' | 'timestamp desc';
  readonly pageSize?: number; // <= 1000
  readonly maxEntries?: number; // stop paging after this many
}

export interface LoggingPort {
  /** entries:list, following nextPageToken through empty pages until done or maxEntries. */
  listEntries(request: ListEntriesRequest, signal?: AbortSignal): Promise<LogEntry[]>;
}
