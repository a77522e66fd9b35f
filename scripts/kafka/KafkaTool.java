// KafkaTool is scripts/kafka.sh's helper, compiled once against the broker's
// own jars and run on their classpath (java -cp 'classes:libs/*' KafkaTool ...):
//
//   ports N                 print N free loopback TCP ports, one a line
//   wait N TIMEOUT_S FILE   wait until N brokers are in the cluster's metadata,
//                           through each listener that FILE (the cluster's
//                           env file) names: PLAINTEXT, SASL_PLAINTEXT with
//                           SCRAM-SHA-512, and SSL.
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterOptions;

public class KafkaTool {
    public static void main(String[] args) throws Exception {
        if (args.length == 2 && args[0].equals("ports")) {
            ports(Integer.parseInt(args[1]));
            return;
        }
        if (args.length == 4 && args[0].equals("wait")) {
            System.exit(await(Integer.parseInt(args[1]), Integer.parseInt(args[2]), Path.of(args[3])));
        }
        System.err.println("usage: KafkaTool ports N | wait N TIMEOUT_S ENV_FILE");
        System.exit(2);
    }

    static void ports(int n) throws IOException {
        // Below the kernel's ephemeral range: a port from that range (what
        // binding port 0 gives) can be taken by any outgoing connection in
        // the seconds before the broker binds it, and a node then dies at
        // start with "Address already in use" (seen with many test clients
        // connecting at once). Hold every socket until all are chosen, so
        // the N ports differ.
        int low = 10000, high = ephemeralLow() - 1;
        Random random = new Random();
        List<ServerSocket> held = new ArrayList<>();
        try {
            for (int tries = 0; held.size() < n; tries++) {
                int port = 0;
                if (high - low > 1000 && tries < 100 * n) port = low + random.nextInt(high - low);
                try {
                    held.add(new ServerSocket(port, 1, InetAddress.getLoopbackAddress()));
                } catch (IOException taken) {
                    continue;
                }
                System.out.println(held.get(held.size() - 1).getLocalPort());
            }
        } finally {
            for (ServerSocket s : held) s.close();
        }
    }

    // ephemeralLow is the first port of the kernel's ephemeral range
    // (Linux's default when it cannot tell).
    static int ephemeralLow() {
        try {
            // Lines: readString trusts the size a /proc file reports (0).
            return Integer.parseInt(Files.readAllLines(Path.of("/proc/sys/net/ipv4/ip_local_port_range")).get(0).trim().split("\\s+")[0]);
        } catch (IOException | RuntimeException e) {
            return 32768;
        }
    }

    // env reads the export lines kafka.sh wrote.
    static Map<String, String> env(Path file) throws IOException {
        Map<String, String> m = new HashMap<>();
        for (String line : Files.readAllLines(file)) {
            line = line.trim();
            if (!line.startsWith("export ")) continue;
            String kv = line.substring("export ".length());
            int eq = kv.indexOf('=');
            String v = kv.substring(eq + 1);
            if (v.length() >= 2 && v.startsWith("'") && v.endsWith("'")) v = v.substring(1, v.length() - 1);
            m.put(kv.substring(0, eq), v);
        }
        return m;
    }

    static int await(int want, int timeoutS, Path envFile) throws Exception {
        Map<String, String> e = env(envFile);
        Map<String, Properties> listeners = new java.util.LinkedHashMap<>();
        Properties plain = new Properties();
        plain.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, e.get("EVCTL_TEST_KAFKA"));
        listeners.put("PLAINTEXT", plain);
        Properties sasl = new Properties();
        sasl.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, e.get("EVCTL_TEST_KAFKA_SASL"));
        sasl.put("security.protocol", "SASL_PLAINTEXT");
        sasl.put("sasl.mechanism", "SCRAM-SHA-512");
        sasl.put("sasl.jaas.config", "org.apache.kafka.common.security.scram.ScramLoginModule required username=\""
                + e.get("EVCTL_TEST_KAFKA_USER") + "\" password=\"" + e.get("EVCTL_TEST_KAFKA_PASSWORD") + "\";");
        listeners.put("SASL_PLAINTEXT", sasl);
        Properties ssl = new Properties();
        ssl.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, e.get("EVCTL_TEST_KAFKA_SSL"));
        ssl.put("security.protocol", "SSL");
        ssl.put("ssl.truststore.type", "PEM");
        ssl.put("ssl.truststore.location", e.get("EVCTL_TEST_KAFKA_CA"));
        listeners.put("SSL", ssl);

        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutS);
        String last = "no answer yet";
        for (Map.Entry<String, Properties> l : listeners.entrySet()) {
            Properties p = l.getValue();
            p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "5000");
            p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "5000");
            try (Admin admin = Admin.create(p)) {
                while (true) {
                    try {
                        int n = admin.describeCluster(new DescribeClusterOptions().timeoutMs(5000))
                                .nodes().get(6, TimeUnit.SECONDS).size();
                        if (n >= want) break;
                        last = n + " of " + want + " brokers in the metadata";
                    } catch (Exception ex) {
                        last = String.valueOf(ex.getCause() != null ? ex.getCause() : ex);
                    }
                    if (System.nanoTime() > deadline) {
                        System.err.println("kafka.sh: the " + l.getKey() + " listener: " + last + " after " + timeoutS + "s");
                        return 1;
                    }
                    Thread.sleep(250);
                }
            }
        }
        return 0;
    }
}
