import { AppError } from '../../core/errors.js';
import { parseEndpoint } from './adapter.js';

/** The module of @google-cloud/monitoring that holds MetricServiceClient (monitoring.ts and warm.ts load it). */
export const METRIC_SERVICE_CLIENT_MODULE = '@google-cloud/monitoring/build/src/v3/metric_service_client.js';

export const DEFAULT_MONITORING_ENDPOINT = 'https://monitoring.googleapis.com';

/**
 * The Cloud Monitoring base URL, checked without loading the client library (the CLI checks it before any
 * request leaves and loads the library later): a bare origin, since the client builds `/v3/projects/...`
 * itself and cannot take a path prefix.
 */
export const parseMonitoringEndpoint = (value: string | undefined) => {
  const endpoint = parseEndpoint(value ?? DEFAULT_MONITORING_ENDPOINT, 'Cloud Monitoring');
  if (endpoint.path !== '') {
    throw new AppError('config_invalid', 'the Cloud Monitoring endpoint must be a bare origin (no path)');
  }
  return endpoint;
};
