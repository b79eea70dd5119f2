"""A BashOperator chain with TaskGroups, chain() and a loop the importer can unroll."""
from datetime import datetime, timedelta

from airflow import DAG
from airflow.models.baseoperator import chain
from airflow.operators.bash import BashOperator
from airflow.operators.empty import EmptyOperator
from airflow.utils.task_group import TaskGroup
from airflow.utils.trigger_rule import TriggerRule

REGIONS = ["eu", "us"]

with DAG(
    dag_id="bash_groups",
    description="Extract per region, transform, publish",
    schedule="0 3 * * *",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    tags=["etl", "bash"],
    max_active_runs=2,
) as dag:
    start = EmptyOperator(task_id="start")

    with TaskGroup("extract") as extract:
        for region in REGIONS:
            BashOperator(
                task_id=f"pull_{region}",
                bash_command=f"echo pulling {region} for {{{{ ds }}}}",
                retries=2,
                retry_delay=timedelta(seconds=30),
            )

    with TaskGroup(group_id="transform") as transform:
        clean = BashOperator(task_id="clean", bash_command="echo clean",
                             env={"MODE": "strict"}, cwd="/tmp")
        with TaskGroup("checks") as checks:
            rows = BashOperator(task_id="rows", bash_command="test 1 -eq 1")
            nulls = BashOperator(task_id="nulls", bash_command="exit 0",
                                 skip_on_exit_code=[99, 100])
        clean >> [rows, nulls]

    publish = BashOperator(
        task_id="publish",
        bash_command="""set -e
echo "publishing {{ ds }}"
echo "::sparkplane-output published=yes"
""",
        execution_timeout=timedelta(minutes=10),
    )
    notify = BashOperator(task_id="notify_failure", bash_command="echo failed",
                          trigger_rule=TriggerRule.ONE_FAILED)
    done = EmptyOperator(task_id="done", trigger_rule="none_failed_min_one_success")

    chain(start, extract, transform, publish, [notify, done])
    notify.set_upstream(transform)
