#!/usr/bin/env bash
# A single-node Apache Kafka 4.x (KRaft) on 127.0.0.1, without Docker, for development and tests.
#
#   deploy/local/kafka.sh start     fetch the jars once (Maven Central, cached), format, start, wait until ready
#   deploy/local/kafka.sh stop      stop the broker (its data stays; `start` continues from it)
#   deploy/local/kafka.sh status    exit 0 when it is running
#   deploy/local/kafka.sh reset     stop and delete its data
#
# Listeners: PLAINTEXT on $PERFSTREAM_KAFKA_PORT (19092), SASL_PLAINTEXT with SASL/PLAIN on the next
# port but one (19094; user $PERFSTREAM_KAFKA_USER / $PERFSTREAM_KAFKA_PASSWORD), the KRaft controller
# in between. Jars: $PERFSTREAM_CACHE/kafka-<version>/ (never in the repository). Data, logs and pid:
# $PERFSTREAM_KAFKA_HOME. Several brokers can run side by side with different ports and homes.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
port="${PERFSTREAM_KAFKA_PORT:-19092}"
controller_port=$((port + 1))
sasl_port=$((port + 2))
home="${PERFSTREAM_KAFKA_HOME:-/tmp/perfstream-kafka-$port}"
user="${PERFSTREAM_KAFKA_USER:-perfstream}"
password="${PERFSTREAM_KAFKA_PASSWORD:-perfstream-secret}"
version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml")"
libs="${PERFSTREAM_CACHE:-$HOME/.cache/perfstream}/kafka-$version"
pidfile="$home/broker.pid"

fetch_jars() {
    [[ -f "$libs/kafka_2.13-$version.jar" ]] && return
    echo "fetching Apache Kafka $version jars from Maven Central into $libs" >&2
    mvn -q -B -Dstyle.color=never -f "$here/pom.xml" dependency:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$libs.partial" >&2
    rm -rf "$libs" && mv "$libs.partial" "$libs"
}

write_config() {
    mkdir -p "$home/data"
    cat > "$home/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port,SASL_PLAINTEXT://127.0.0.1:$sasl_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port,SASL_PLAINTEXT://127.0.0.1:$sasl_port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT
sasl.enabled.mechanisms=PLAIN
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$user="$password";
log.dirs=$home/data
num.partitions=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
PROPS
    cat > "$home/log4j.properties" <<PROPS
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$home/server.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
PROPS
}

running() { [[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

java_cmd() { java -Xms256m -Xmx768m -Dlog4j.configuration="file:$home/log4j.properties" -cp "$libs/*" "$@"; }

start() {
    if running; then echo "kafka already running (pid $(cat "$pidfile")) on 127.0.0.1:$port"; return; fi
    fetch_jars
    write_config
    if [[ ! -f "$home/data/meta.properties" ]]; then
        java_cmd kafka.tools.StorageTool format --standalone -t "$(java_cmd kafka.tools.StorageTool random-uuid)" \
            -c "$home/server.properties" > "$home/format.log"
    fi
    : > "$home/server.log"
    nohup java -Xms256m -Xmx768m -Dlog4j.configuration="file:$home/log4j.properties" -cp "$libs/*" \
        kafka.Kafka "$home/server.properties" > "$home/stdout.log" 2>&1 &
    echo $! > "$pidfile"
    for _ in $(seq 1 120); do
        if grep -q "Kafka Server started" "$home/server.log" 2>/dev/null; then
            echo "kafka $version running (pid $(cat "$pidfile")): PLAINTEXT 127.0.0.1:$port, SASL_PLAINTEXT 127.0.0.1:$sasl_port"
            return
        fi
        running || { echo "kafka exited; see $home/server.log and $home/stdout.log" >&2; tail -20 "$home/stdout.log" >&2; exit 1; }
        sleep 0.5
    done
    echo "kafka did not report ready within 60 s; see $home/server.log" >&2
    exit 1
}

stop() {
    running || { rm -f "$pidfile"; echo "kafka not running"; return; }
    local pid; pid="$(cat "$pidfile")"
    kill "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    rm -f "$pidfile"
    echo "kafka stopped"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) running ;;
    reset) stop; rm -rf "$home" ;;
    *) echo "usage: $0 start|stop|status|reset" >&2; exit 2 ;;
esac
