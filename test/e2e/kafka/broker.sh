#!/bin/sh
# Runs a single-node KRaft Apache Kafka broker (broker+controller in one JVM) in the foreground,
# for the Kafka e2e test. Usage: broker.sh DATA_DIR BROKER_PORT CONTROLLER_PORT [ADVERTISED_PORT]
# ADVERTISED_PORT (optional) is the port clients are told to reconnect to (a recording proxy).
# The broker jars come from Maven Central via test/e2e/kafka/pom.xml (fetched here when missing).
set -eu
DATA_DIR=$1
BROKER_PORT=$2
CONTROLLER_PORT=$3
ADVERTISED_PORT=${4:-$BROKER_PORT}
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
LIBS="$ROOT/build/kafka/libs"
if [ ! -f "$LIBS/kafka-server-3.9.1.jar" ]; then
  mvn -q -f "$ROOT/test/e2e/kafka/pom.xml" dependency:copy-dependencies -DoutputDirectory="$LIBS" >&2
fi
mkdir -p "$DATA_DIR/logs"
cat > "$DATA_DIR/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$BROKER_PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$ADVERTISED_PORT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$DATA_DIR/data
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
PROPS
cat > "$DATA_DIR/log4j.properties" <<PROPS
log4j.rootLogger=WARN, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$DATA_DIR/logs/server.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
PROPS
JAVA_OPTS="-Xmx512m -Xms128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Dlog4j.configuration=file:$DATA_DIR/log4j.properties -Dkafka.logs.dir=$DATA_DIR/logs"
# shellcheck disable=SC2086
java $JAVA_OPTS -cp "$LIBS/*" kafka.tools.StorageTool format -t flowlens-e2e-kafka-cluster0 -c "$DATA_DIR/server.properties" --ignore-formatted >/dev/null
# shellcheck disable=SC2086
exec java $JAVA_OPTS -cp "$LIBS/*" kafka.Kafka "$DATA_DIR/server.properties"
