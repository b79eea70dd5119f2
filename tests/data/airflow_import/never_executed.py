"""If the importer ever ran this file, it would leave a marker and stop: it must only parse it."""
import os
import pathlib

pathlib.Path(os.environ.get("SPARKPLANE_IMPORT_MARKER", "/tmp/sparkplane-import-marker")).write_text("executed")
raise SystemExit("this DAG file was executed")

from datetime import datetime  # noqa: E402

from airflow import DAG  # noqa: E402
from airflow.operators.bash import BashOperator  # noqa: E402

with DAG("never_executed", start_date=datetime(2024, 1, 1), schedule="@hourly") as dag:
    BashOperator(task_id="hello", bash_command="echo hello")
