"""Python callables that look like the reference design's but do more (or something else):
reported, not guessed."""
from datetime import datetime

import boto3
from airflow import DAG
from airflow.operators.python import PythonOperator
from kubernetes import client, config


def create_cluster_and_upload():
    config.load_kube_config()
    client.AppsV1Api().create_namespaced_deployment("spark", {
        "metadata": {"name": "spark-master"},
        "spec": {"replicas": 1, "template": {"spec": {"containers": [
            {"name": "master", "image": "apache/spark:3.5.1",
             "command": ["/opt/spark/bin/spark-class", "org.apache.spark.deploy.master.Master"]},
        ]}}},
    })
    boto3.client("s3").upload_file("/tmp/seed.csv", "bucket", "seed.csv")
    upload()


def upload():
    pass


def create_redis():
    config.load_kube_config()
    client.AppsV1Api().create_namespaced_deployment("cache", {
        "metadata": {"name": "redis"},
        "spec": {"replicas": 1, "template": {"spec": {"containers": [
            {"name": "redis", "image": "redis:7"}]}}},
    })


with DAG("callable_mixed", start_date=datetime(2024, 1, 1), schedule=None) as dag:
    make = PythonOperator(task_id="create_cluster", python_callable=create_cluster_and_upload)
    cache = PythonOperator(task_id="create_cache", python_callable=create_redis)
    make >> cache
