"""Drives a real Kafka broker with kafka-python for the Kafka e2e test and prints what it saw as JSON.

Usage: client.py BOOTSTRAP TOPIC MISSING_TOPIC ACKS1_COUNT ACKS0_COUNT
Creates TOPIC (then creates it again: TOPIC_ALREADY_EXISTS), asks Metadata for MISSING_TOPIC
(UNKNOWN_TOPIC_OR_PARTITION), produces ACKS1_COUNT messages with acks=1 one request each, ACKS0_COUNT
with acks=0, then consumes every message back from the start of partition 0.
"""
import json
import sys
import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError, UnknownTopicOrPartitionError

bootstrap, topic, missing_topic = sys.argv[1], sys.argv[2], sys.argv[3]
acks1_count, acks0_count = int(sys.argv[4]), int(sys.argv[5])
seen = {}

admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id='flowlens-admin')
admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
try:
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    seen['second_create'] = 'ok'
except TopicAlreadyExistsError:
    seen['second_create'] = 'TOPIC_ALREADY_EXISTS'
try:
    described = admin.describe_topics([missing_topic])
    seen['missing_metadata'] = [t.get('error_code') for t in described]
except UnknownTopicOrPartitionError:
    seen['missing_metadata'] = 'UNKNOWN_TOPIC_OR_PARTITION'
admin.close()

# linger_ms=0 and waiting on each send: one Produce request per message
producer = KafkaProducer(bootstrap_servers=bootstrap, client_id='flowlens-producer', acks=1, linger_ms=0)
offsets = [producer.send(topic, b'acks1-%d' % i).get(timeout=10).offset for i in range(acks1_count)]
producer.close()
seen['acks1_offsets'] = offsets

producer0 = KafkaProducer(bootstrap_servers=bootstrap, client_id='flowlens-producer-acks0', acks=0, linger_ms=0)
for i in range(acks0_count):
    producer0.send(topic, b'acks0-%d' % i)
    producer0.flush()
producer0.close()

consumer = KafkaConsumer(bootstrap_servers=bootstrap, client_id='flowlens-consumer', group_id=None,
                         enable_auto_commit=False, fetch_max_wait_ms=100)
partition = TopicPartition(topic, 0)
consumer.assign([partition])
consumer.seek_to_beginning(partition)
values = []
deadline = time.time() + 15
while len(values) < acks1_count + acks0_count and time.time() < deadline:
    for records in consumer.poll(timeout_ms=500).values():
        values.extend(r.value.decode() for r in records)
consumer.close()
seen['consumed'] = len(values)
print(json.dumps(seen))
