"""Operators and callables Sparkplane cannot run: each is reported with its line."""
from datetime import datetime, timedelta

from airflow.decorators import dag, task
from airflow.operators.bash import BashOperator
from airflow.operators.python import PythonOperator
from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from airflow.sensors.filesystem import FileSensor


def load_to_warehouse():
    import psycopg2
    psycopg2.connect("dbname=dw").cursor().execute("select 1")


def alert(context):
    print("failed", context)


@dag(schedule=timedelta(hours=6), start_date=datetime(2024, 1, 1, 2), catchup=False,
     dagrun_timeout=timedelta(hours=1))
def mixed():
    wait = FileSensor(task_id="wait_for_file", filepath="/data/in.csv")

    @task.bash(retries=1)
    def extract(day="2024"):
        return f"echo extracting {day}"

    @task
    def transform():
        return 42

    load = PythonOperator(task_id="load", python_callable=load_to_warehouse,
                          on_failure_callback=alert)
    pod = KubernetesPodOperator(task_id="score", image="ml:latest", name="score")
    report = BashOperator(task_id="report", bash_command="echo {{ ti.xcom_pull('load') }}",
                          depends_on_past=True)
    for name in get_partitions():
        BashOperator(task_id=f"part_{name}", bash_command="echo part")

    wait >> extract() >> transform() >> load >> [pod, report]


mixed()
