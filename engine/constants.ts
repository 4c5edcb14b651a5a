/** Task queue of bizon workers unless the config says otherwise; worker, client and tests share it. */
export const DEFAULT_TASK_QUEUE = 'bizon';
/** Environment variable holding the AES-256 key of the payload codec (base64). */
export const CODEC_KEY_ENV = 'BIZON_CODEC_KEY';
/** Temporal namespace used unless the config says otherwise. */
export const DEFAULT_NAMESPACE = 'default';
/** Where `bizon server` listens, so `bizon run` can find it. */
export const LOCAL_SERVER_ADDRESS = '127.0.0.1:7233';
/** The Web UI of `bizon server`. */
export const LOCAL_UI_PORT = 8233;
/** Name of the sync workflow type. */
export const SYNC_WORKFLOW_TYPE = 'syncWorkflow';
/** Name of the progress query of the sync workflow. */
export const PROGRESS_QUERY = 'progress';

/** Workflow type of a stream's state workflow (`workflows/state.ts`). */
export const STREAM_STATE_WORKFLOW_TYPE = 'streamStateWorkflow';

/** How long the local servers (`bizon run`'s embedded one, `bizon server`) keep closed runs. Stream state never expires. */
export const LOCAL_RETENTION_DAYS = 30;

/** Workflow type of a source's request pacer (`workflows/pacer.ts`). */
export const REQUEST_PACER_WORKFLOW_TYPE = 'requestPacerWorkflow';

/**
 * The public workflow type any client starts with the pipeline as written (`workflows/bizon-pipeline.ts`); bizon's
 * CLI, program API and Schedules start it too. Each stream's sync is its child.
 */
export const BIZON_PIPELINE_WORKFLOW_TYPE = 'bizonPipeline';
/** Its update answering once the streams' syncs have started. */
export const STREAMS_STARTED_UPDATE = 'streamsStarted';
/** The query a pipeline workflow answers with every stream's status. */
export const PIPELINE_PROGRESS_QUERY = 'pipelineProgress';
/** Failure type of a pipeline in which a stream did not succeed (the others finished). */
export const STREAMS_FAILED = 'StreamsFailed';
