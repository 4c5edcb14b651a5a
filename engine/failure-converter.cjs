// With the payload codec on, failure messages and stack traces move into an encoded (and so encrypted)
// attributes payload instead of staying in clear text in history. CommonJS, because the Temporal SDK
// loads it by path with require() in clients and workers, and bundles it into the workflow code.
const { DefaultFailureConverter } = require('@temporalio/common');

exports.failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
