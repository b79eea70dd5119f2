"""Timetables, time zones and the trigger rules Airflow has beyond the first seven."""
import pendulum
from datetime import timedelta

from airflow import DAG
from airflow.operators.bash import BashOperator
from airflow.timetables.trigger import CronTriggerTimetable
from airflow.utils.trigger_rule import TriggerRule

with DAG(
    dag_id="timetables",
    schedule=CronTriggerTimetable("30 6 * * 1-5", timezone="America/New_York",
                                  interval=timedelta(days=1)),
    start_date=pendulum.datetime(2024, 11, 1, tz="America/New_York"),
    catchup=False,
) as dag:
    extract = BashOperator(task_id="extract", bash_command="exit 99")
    load = BashOperator(task_id="load", bash_command="echo load",
                        trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)
    audit = BashOperator(task_id="audit", bash_command="echo audit",
                         trigger_rule=TriggerRule.ALL_SKIPPED)
    always = BashOperator(task_id="always", bash_command="echo always", trigger_rule="always")
    one_done = BashOperator(task_id="one_done", bash_command="echo done",
                            trigger_rule=TriggerRule.ONE_DONE)
    extract >> [load, audit, one_done] >> always
