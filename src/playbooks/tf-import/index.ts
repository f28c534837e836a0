export {
  formatResourceAddress,
  type InstanceKey,
  type ModuleStep,
  parseResourceAddress,
  type ResourceAddress,
} from './address.js';
export {
  buildComputeInstanceImport,
  type ComputeInstanceImport,
  sanitizeResourceName,
} from './compute-instance.js';
export { decodeHclString, escapeHclString } from './hcl.js';
export {
  addImportBlock,
  appendHclBlock,
  buildImportBlock,
  type ExistingImport,
  listImportBlocks,
  type TfImportOutcome,
} from './imports-file.js';
export {
  buildTfImportBranchName,
  planTfImportChange,
  type TfFileChange,
  type TfImportPlan,
  type TfImportPlanTarget,
  tfPath,
} from './plan.js';
export { addResourceBlock, listResourceBlocks, type ResourceBlockOutcome } from './resources-file.js';
