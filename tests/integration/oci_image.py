#!/usr/bin/env python3
"""Puts an image into an OCI image layout (the master's store,
DATA_DIR/images) without the CLI: one uncompressed tar layer of a root
file system, optionally a second layer of random bytes, a config for the
given architecture, the manifest, and an index.json entry naming it REF.
The layout is created when missing. Prints the digests as JSON:
{"manifest": ..., "config": ..., "layers": [...], "size": total bytes}.

usage: oci_image.py LAYOUT REF --rootfs DIR [--arch ARCH] [--random-mib N]
"""
import argparse
import hashlib
import io
import json
import os
import platform
import tarfile

ARCHES = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}


def put_blob(layout, data):
    digest = hashlib.sha256(data).hexdigest()
    d = os.path.join(layout, "blobs", "sha256")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, digest)
    if not os.path.exists(path):
        with open(path + ".tmp", "wb") as f:
            f.write(data)
        os.rename(path + ".tmp", path)
    return "sha256:" + digest, len(data)


def put_blob_file(layout, src):
    """A large blob, hashed and copied without holding it in memory."""
    h = hashlib.sha256()
    with open(src, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    d = os.path.join(layout, "blobs", "sha256")
    os.makedirs(d, exist_ok=True)
    os.replace(src, os.path.join(d, h.hexdigest()))
    return "sha256:" + h.hexdigest(), os.path.getsize(os.path.join(d, h.hexdigest()))


def rootfs_layer(rootfs):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name in sorted(os.listdir(rootfs)):
            t.add(os.path.join(rootfs, name), arcname=name)
    return buf.getvalue()


def random_layer(layout, mib):
    """A tar of one file of MIB MiB of random bytes, written to a file."""
    tmp = os.path.join(layout, "random-layer.tmp")
    data_path = tmp + ".data"
    with open(data_path, "wb") as f:
        for _ in range(mib):
            f.write(os.urandom(1 << 20))
    with tarfile.open(tmp, mode="w", format=tarfile.PAX_FORMAT) as t:
        t.add(data_path, arcname="random.bin")
    os.unlink(data_path)
    return put_blob_file(layout, tmp)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("layout")
    ap.add_argument("ref")
    ap.add_argument("--rootfs", required=True)
    ap.add_argument("--arch", default=ARCHES.get(platform.machine(), platform.machine()))
    ap.add_argument("--random-mib", type=int, default=0)
    a = ap.parse_args()

    os.makedirs(a.layout, exist_ok=True)
    with open(os.path.join(a.layout, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    layers = [put_blob(a.layout, rootfs_layer(a.rootfs))]
    if a.random_mib:
        layers.append(random_layer(a.layout, a.random_mib))
    config = {
        "architecture": a.arch,
        "os": "linux",
        "config": {"Env": ["PATH=/bin"], "Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": [d for d, _ in layers]},
    }
    cfg = put_blob(a.layout, json.dumps(config).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfg[0], "size": cfg[1]},
        "layers": [
            {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": n} for d, n in layers
        ],
    }
    man = put_blob(a.layout, json.dumps(manifest).encode())
    index_path = os.path.join(a.layout, "index.json")
    try:
        with open(index_path) as f:
            index = json.load(f)
    except FileNotFoundError:
        index = {"schemaVersion": 2, "manifests": []}
    index["manifests"] = [
        m for m in index.get("manifests", [])
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") != a.ref
    ]
    index["manifests"].append({
        "mediaType": manifest["mediaType"], "digest": man[0], "size": man[1],
        "annotations": {"org.opencontainers.image.ref.name": a.ref},
    })
    with open(index_path + ".tmp", "w") as f:
        json.dump(index, f)
    os.rename(index_path + ".tmp", index_path)
    print(json.dumps({"manifest": man[0], "config": cfg[0], "layers": [d for d, _ in layers],
                      "size": man[1] + cfg[1] + sum(n for _, n in layers)}))


if __name__ == "__main__":
    main()
