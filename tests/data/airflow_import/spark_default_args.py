"""SparkSubmitOperator jobs with default_args, params and the Airflow 3 task SDK imports."""
import pendulum
from datetime import timedelta

from airflow.sdk import DAG, Param
from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.providers.standard.operators.bash import BashOperator

default_args = {
    "owner": "data",
    "retries": 3,
    "retry_delay": timedelta(minutes=2),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(hours=1),
    "execution_timeout": timedelta(hours=2),
    "conn_id": "spark_prod",
}

with DAG(
    "nightly_spark",
    default_args=default_args,
    schedule="@daily",
    start_date=pendulum.datetime(2024, 3, 1, tz="Europe/Paris"),
    end_date=pendulum.datetime(2025, 3, 1, tz="Europe/Paris"),
    catchup=True,
    params={
        "rows": Param(1000, type="integer", minimum=1, description="Rows to generate"),
        "label": "nightly",
    },
) as dag:
    prepare = BashOperator(task_id="prepare", bash_command="echo {{ params.label }} {{ ds }}")

    wordcount = SparkSubmitOperator(
        task_id="wordcount",
        application="/apps/app.py",
        py_files="/apps/job_dependency.zip",
        application_args=["--rows", "{{ params.rows }}"],
        conf={"spark.sql.shuffle.partitions": 8, "spark.eventLog.enabled": True},
        executor_memory="512m",
        total_executor_cores=2,
        name="wordcount-{{ ds }}",
        env_vars={"TZ": "UTC"},
    )

    stats = SparkSubmitOperator(
        task_id="java_stats",
        conn_id="spark_java",
        application="/opt/jobs/stats.jar",
        java_class="com.example.Stats",
        jars="/opt/jobs/lib/a.jar,/opt/jobs/lib/b.jar",
        packages="org.apache.spark:spark-avro_2.12:3.5.0",
        driver_memory="1g",
        retries=0,
    )

    prepare >> wordcount >> stats
