"""Runs the code cells of a notebook in a kernel of a running Jupyter server, as a browser would:
POST /api/kernels, then execute_request messages over the kernel's websocket. So the cells see
the kernel's environment (SPARK_REMOTE and the Connect token come from the server).

usage: run_in_kernel.py PORT TOKEN NOTEBOOK.ipynb
Exit 0 when every cell ran; 1 with the failing cell's error on stderr.
"""
import asyncio
import json
import sys
import uuid

from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.websocket import websocket_connect


async def main(port, token, path):
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"token {token}"}
    http = AsyncHTTPClient()
    resp = await http.fetch(HTTPRequest(f"{base}/api/kernels", method="POST", body="{}",
                                        headers=headers))
    kernel = json.loads(resp.body)["id"]
    ws = await websocket_connect(HTTPRequest(
        f"ws://127.0.0.1:{port}/api/kernels/{kernel}/channels", headers=headers))
    session = uuid.uuid4().hex
    with open(path) as f:
        cells = [c for c in json.load(f)["cells"] if c["cell_type"] == "code"]
    for n, cell in enumerate(cells):
        code = "".join(cell["source"])
        msg_id = uuid.uuid4().hex
        await ws.write_message(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": "execute_request", "session": session,
                       "username": "test", "version": "5.3"},
            "parent_header": {}, "metadata": {}, "channel": "shell",
            "content": {"code": code, "silent": False, "store_history": True,
                        "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
        }))
        while True:
            raw = await asyncio.wait_for(ws.read_message(), timeout=120)
            if raw is None:
                print("the kernel's websocket closed", file=sys.stderr)
                return 1
            msg = json.loads(raw)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = msg["header"]["msg_type"]
            if kind == "stream":
                print(msg["content"]["text"], end="")
            elif kind == "error":
                print(f"cell {n}: {msg['content']['ename']}: {msg['content']['evalue']}",
                      file=sys.stderr)
                return 1
            elif kind == "execute_reply":
                if msg["content"]["status"] != "ok":
                    print(f"cell {n}: {msg['content'].get('evalue')}", file=sys.stderr)
                    return 1
                break
    ws.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3])))
