"""Another process on the same store: a FileStore path or a TCPStore host:port.

usage: store_client.py file PATH NAME | store_client.py tcp HOST:PORT NAME
Waits for "go", adds 1 to "counter" 200 times, sets "done/NAME", and checks that it sees the
other side's key "from_main".
"""
import sys
from datetime import timedelta

import ember.distributed as dist

kind, where, name = sys.argv[1:4]
if kind == "file":
    store = dist.FileStore(where, 3)
else:
    host, port = where.rsplit(":", 1)
    store = dist.TCPStore(host, int(port), is_master=False, timeout=timedelta(seconds=30))
store.set_timeout(timedelta(seconds=30))
store.wait(["go"])
for _ in range(200):
    store.add("counter", 1)
store.set(f"done/{name}", name)
assert store.get("from_main") == b"hello", store.get("from_main")
print("client", name, "ok")
