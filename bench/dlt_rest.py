"""dlt beside bizon-temporal in `npm run bench -- --only dlt`: the example API's users, page by page
(page_number, 10 records a page), into JSONL files, as dlt's rest_api source does it.

    python3 bench/dlt_rest.py <api url> <output dir> [page size]
"""
import os
import sys

api_url, output_dir = sys.argv[1], sys.argv[2]
page_size = int(sys.argv[3]) if len(sys.argv) > 3 else 10
os.environ.setdefault("RUNTIME__LOG_LEVEL", "WARNING")
os.environ["DLT_DATA_DIR"] = os.path.join(output_dir, ".dlt-data")
os.environ["DLT_PIPELINE_DIR"] = os.path.join(output_dir, ".dlt-pipelines")

import dlt  # noqa: E402
from dlt.sources.rest_api import rest_api_source  # noqa: E402

source = rest_api_source(
    {
        "client": {
            "base_url": api_url,
            "paginator": {"type": "page_number", "base_page": 1, "page_param": "page", "total_path": None},
        },
        "resources": [
            {"name": "users", "endpoint": {"path": "users", "params": {"limit": page_size}, "data_selector": "items"}, "primary_key": "id"},
        ],
    }
)
pipeline = dlt.pipeline(
    pipeline_name="bench_dlt",
    destination=dlt.destinations.filesystem(bucket_url=f"file://{os.path.abspath(output_dir)}"),
    dataset_name="bench",
    pipelines_dir=os.path.join(output_dir, ".dlt-pipelines"),
)
info = pipeline.run(source, loader_file_format="jsonl")
rows = pipeline.last_trace.last_normalize_info.row_counts.get("users", 0)
print(rows)
