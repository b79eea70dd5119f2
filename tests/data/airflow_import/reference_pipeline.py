"""The reference design's DAG as Airflow users write it: create a Spark master and a worker
through the Kubernetes Python client, register an Airflow connection to the master, run the
application with SparkSubmitOperator in client mode, then delete the connection and the cluster.
"""
import socket
from datetime import datetime, timedelta

from airflow import DAG, settings
from airflow.models import Connection
from airflow.operators.python import PythonOperator
from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from kubernetes import client, config

NAMESPACE = "spark"
SPARK_IMAGE = "bitnami/spark:3.5"
CONN_ID = "spark_remote"

# The driver runs on this Airflow worker (client mode): executors connect back to it.
host_ip = socket.gethostbyname(socket.gethostname())


def _deployment(name, command, replicas):
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name=name, labels={"app": name}),
        spec=client.V1DeploymentSpec(
            replicas=replicas,
            selector=client.V1LabelSelector(match_labels={"app": name}),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"app": name}),
                spec=client.V1PodSpec(containers=[
                    client.V1Container(name=name, image=SPARK_IMAGE, command=command)
                ]),
            ),
        ),
    )


def create_cluster():
    config.load_incluster_config()
    apps = client.AppsV1Api()
    core = client.CoreV1Api()
    apps.create_namespaced_deployment(NAMESPACE, _deployment(
        "spark-master",
        ["/opt/bitnami/spark/bin/spark-class", "org.apache.spark.deploy.master.Master"], 1))
    core.create_namespaced_service(NAMESPACE, client.V1Service(
        metadata=client.V1ObjectMeta(name="spark-master"),
        spec=client.V1ServiceSpec(selector={"app": "spark-master"},
                                  ports=[client.V1ServicePort(port=7077)])))
    worker = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="spark-worker"),
        spec=client.V1DeploymentSpec(
            replicas=2,
            selector=client.V1LabelSelector(match_labels={"app": "spark-worker"}),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"app": "spark-worker"}),
                spec=client.V1PodSpec(containers=[client.V1Container(
                    name="spark-worker", image=SPARK_IMAGE,
                    command=["/opt/bitnami/spark/bin/spark-class",
                             "org.apache.spark.deploy.worker.Worker",
                             "spark://spark-master:7077"],
                    env=[client.V1EnvVar(name="SPARK_WORKER_CORES", value="1"),
                         client.V1EnvVar(name="SPARK_WORKER_MEMORY", value="1g")])]),
            ),
        ),
    )
    apps.create_namespaced_deployment(NAMESPACE, worker)


def delete_cluster():
    config.load_incluster_config()
    apps = client.AppsV1Api()
    apps.delete_namespaced_deployment("spark-worker", NAMESPACE)
    apps.delete_namespaced_deployment("spark-master", NAMESPACE)
    client.CoreV1Api().delete_namespaced_service("spark-master", NAMESPACE)


def create_connection():
    conn = Connection(conn_id=CONN_ID, conn_type="spark", host="spark://spark-master",
                      port=7077)
    session = settings.Session()
    session.add(conn)
    session.commit()


def delete_connection():
    session = settings.Session()
    session.query(Connection).filter(Connection.conn_id == CONN_ID).delete()
    session.commit()


default_args = {
    "owner": "airflow",
    "retries": 0,
    "retry_delay": timedelta(minutes=1),
}

dag = DAG(
    dag_id="spark_on_kubernetes",
    default_args=default_args,
    schedule_interval=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
)

create_spark_cluster = PythonOperator(task_id="create_cluster", python_callable=create_cluster,
                                      dag=dag)
create_spark_connection = PythonOperator(task_id="create_connection",
                                         python_callable=create_connection, dag=dag)
spark_application = SparkSubmitOperator(
    task_id="spark_application",
    dag=dag,
    conn_id="spark_remote",
    conf={"spark.driver.host": host_ip},
    py_files="/apps/job_dependency.zip",
    application="/apps/app.py",
    application_args=["--rows", "2000"],
)
delete_spark_connection = PythonOperator(task_id="delete_connection",
                                         python_callable=delete_connection,
                                         trigger_rule="all_done", dag=dag)
delete_spark_cluster = PythonOperator(task_id="delete_cluster", python_callable=delete_cluster,
                                      trigger_rule="all_done", dag=dag)

create_spark_cluster >> create_spark_connection >> spark_application
spark_application >> delete_spark_connection >> delete_spark_cluster
