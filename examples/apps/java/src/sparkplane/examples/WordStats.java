// WordStats: the Java example job used by `make demo` and the Spark integration tests.
//
// Generates `rows` ids (first argument, default 200000), maps each to a word from a fixed
// vocabulary, counts words with the RDD API, joins the counts with a word-length table and
// aggregates per length. Prints one checkable line on stdout; it depends only on `rows`:
//
//   RESULT total=<ids> distinct=<words> groups=<lengths> checksum=<n>
//
// Built by scripts/build_examples.sh with `javac -cp "$SPARK_HOME/jars/*"` and `jar`.
package sparkplane.examples;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;

import scala.Tuple2;

public final class WordStats {
  private static final List<String> VOCABULARY = Arrays.asList(
      "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
      "juliett", "kilo", "lima", "mike");

  private WordStats() {}

  public static void main(String[] args) {
    int rows = args.length > 0 ? Integer.parseInt(args[0]) : 200000;
    SparkSession spark = SparkSession.builder().appName("sparkplane-example-wordstats").getOrCreate();
    try {
      JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
      List<Integer> ids = new ArrayList<>(rows);
      for (int i = 0; i < rows; i++) {
        ids.add(i);
      }
      final int n = VOCABULARY.size();
      JavaPairRDD<String, Long> counts = sc.parallelize(ids, 4)
          .mapToPair(i -> new Tuple2<>(VOCABULARY.get((int) (((long) i * 7 + 3) % n)), 1L))
          .reduceByKey(Long::sum);
      JavaPairRDD<String, Integer> lengths =
          sc.parallelize(VOCABULARY, 1).mapToPair(w -> new Tuple2<>(w, w.length()));
      Map<Integer, Long> perLength = new TreeMap<>(counts.join(lengths)
          .mapToPair(t -> new Tuple2<>(t._2()._2(), t._2()._1()))
          .reduceByKey(Long::sum)
          .collectAsMap());
      long total = 0;
      long checksum = 0;
      for (Map.Entry<Integer, Long> e : perLength.entrySet()) {
        total += e.getValue();
        checksum += (long) e.getKey() * e.getValue();
      }
      System.out.printf("RESULT total=%d distinct=%d groups=%d checksum=%d%n",
          total, counts.count(), perLength.size(), checksum);
    } finally {
      spark.stop();
    }
  }
}
