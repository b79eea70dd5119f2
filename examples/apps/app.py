"""Example PySpark job used by `make demo` and the Spark integration tests.

Generates --rows sentences with job_dependency.words (shipped with --py-files), counts words with
an RDD flatMap, joins the counts with a category table and aggregates per category with the
DataFrame API. Prints one checkable line on stdout:

    RESULT total=<words> distinct=<distinct words> groups=<categories> checksum=<n>

The result depends only on --rows. With --output PATH the per-category counts are also written
there as CSV. With --fail the job raises after its jobs ran (exit code 1), for failure tests.

Usage: app.py [--rows N] [--partitions P] [--output PATH] [--fail]
"""

import argparse
import sys

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from job_dependency import words


def expected_total(rows):
    return rows * 3


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--output", default="")
    parser.add_argument("--fail", action="store_true")
    args = parser.parse_args(argv)

    spark = SparkSession.builder.appName("sparkplane-example-wordcount").getOrCreate()
    sc = spark.sparkContext
    try:
        counts = (
            sc.parallelize(range(args.rows), args.partitions)
            .flatMap(lambda i: words.sentence(i).split(" "))
            .map(lambda w: (words.normalize(w), 1))
            .reduceByKey(lambda a, b: a + b)
        )
        counts_df = spark.createDataFrame(counts, ["word", "n"])
        categories_df = spark.createDataFrame(
            [(w, words.category(w)) for w in words.VOCABULARY], ["word", "category"]
        )
        per_category = (
            counts_df.join(categories_df, "word")
            .groupBy("category")
            .agg(F.sum("n").alias("n"), F.count("word").alias("words"))
            .orderBy("category")
            .collect()
        )
        total = sum(r["n"] for r in per_category)
        distinct = sum(r["words"] for r in per_category)
        checksum = sum((i + 1) * r["n"] for i, r in enumerate(per_category))
        if args.output:
            spark.createDataFrame(per_category).coalesce(1).write.mode("overwrite").csv(
                args.output, header=True
            )
        if total != expected_total(args.rows):
            print("RESULT_MISMATCH total=%d expected=%d" % (total, expected_total(args.rows)))
            return 2
        print("RESULT total=%d distinct=%d groups=%d checksum=%d"
              % (total, distinct, len(per_category), checksum), flush=True)
        if args.fail:
            raise RuntimeError("failing on purpose (--fail)")
        return 0
    finally:
        spark.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
