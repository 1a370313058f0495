"""A stand-in CloudFront edge location for irsa-issuer's CDN tests: what moto cannot do.

moto keeps CloudFront's configuration but serves no content. This server serves one
distribution's content over HTTPS (the test's throwaway chain for the alias) the way an edge
does, reading everything from moto, so a test sees what STS would see through the CDN:

- the origin must be an S3 bucket reached through an Origin Access Control, and the bucket
  policy must let `cloudfront.amazonaws.com` `s3:GetObject` the key with `AWS:SourceArn` equal
  to the distribution's ARN; otherwise 403, as S3 answers an edge it does not authorise;
- responses are cached per path for min(the object's Cache-Control max-age, the cache
  policy's MaxTTL), and served from the cache until then;
- an invalidation (read from moto's ListInvalidations on each request) purges the paths it
  names, as CloudFront's do.

Usage: cloudfront_edge.py --endpoint URL --distribution ID --cert CHAIN --key KEY, with AWS
credentials in the environment. Prints "listening on https://127.0.0.1:PORT".
"""

import argparse
import fnmatch
import http.server
import json
import re
import ssl
import sys
import threading
import time

import boto3


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--endpoint", required=True)
    p.add_argument("--distribution", required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    args = p.parse_args()
    cf = boto3.client("cloudfront", endpoint_url=args.endpoint, region_name="us-east-1")
    s3 = boto3.client("s3", endpoint_url=args.endpoint, region_name="us-east-1")
    cache = {}
    seen = set()
    lock = threading.Lock()

    def purge():
        out = cf.list_invalidations(DistributionId=args.distribution)
        for item in out["InvalidationList"].get("Items") or []:
            if item["Id"] in seen:
                continue
            seen.add(item["Id"])
            inv = cf.get_invalidation(DistributionId=args.distribution, Id=item["Id"])
            for pattern in inv["Invalidation"]["InvalidationBatch"]["Paths"].get("Items") or []:
                for path in [k for k in cache if fnmatch.fnmatchcase(k, pattern)]:
                    del cache[path]

    def origin_allows(dist_arn, config, key):
        origin = config["Origins"]["Items"][0]
        if not origin.get("OriginAccessControlId"):
            return None, "the origin has no Origin Access Control"
        bucket = re.sub(r"\.s3\.[a-z0-9-]+\.amazonaws\.com$", "", origin["DomainName"])
        try:
            policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
        except Exception as e:  # no policy: S3 denies
            return None, f"no bucket policy ({e})"
        for st in policy.get("Statement", []):
            if st.get("Effect") != "Allow" or st.get("Principal") != {"Service": "cloudfront.amazonaws.com"}:
                continue
            if st.get("Condition", {}).get("StringEquals", {}).get("AWS:SourceArn") != dist_arn:
                continue
            resources = st.get("Resource")
            resources = resources if isinstance(resources, list) else [resources]
            if any(fnmatch.fnmatchcase(f"arn:aws:s3:::{bucket}/{key}", r) for r in resources):
                return bucket, None
        return None, "the bucket policy does not let this distribution read the object"

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            path = self.path.split("?", 1)[0]
            with lock:
                purge()
                dist = cf.get_distribution(Id=args.distribution)["Distribution"]
                config = dist["DistributionConfig"]
                if not config["Enabled"]:
                    return self.send_error(403, "distribution disabled")
                hit = cache.get(path)
                if hit and hit["expires"] > time.time():
                    return self.reply(hit, "Hit from cloudfront")
                bucket, why = origin_allows(dist["ARN"], config, path.lstrip("/"))
                if bucket is None:
                    return self.send_error(403, why)
                try:
                    obj = s3.get_object(Bucket=bucket, Key=path.lstrip("/"))
                except s3.exceptions.NoSuchKey:
                    return self.send_error(404)
                cc = obj.get("CacheControl") or ""
                m = re.search(r"max-age=(\d+)", cc)
                ttl = int(m.group(1)) if m else 0
                policy_id = config["DefaultCacheBehavior"].get("CachePolicyId")
                if policy_id:
                    pc = cf.get_cache_policy(Id=policy_id)["CachePolicy"]["CachePolicyConfig"]
                    ttl = min(ttl, int(pc.get("MaxTTL", ttl)))
                entry = {
                    "body": obj["Body"].read(),
                    "type": obj.get("ContentType") or "application/octet-stream",
                    "cc": cc,
                    "expires": time.time() + ttl,
                }
                cache[path] = entry
                return self.reply(entry, "Miss from cloudfront")

        def reply(self, entry, x_cache):
            self.send_response(200)
            self.send_header("Content-Type", entry["type"])
            if entry["cc"]:
                self.send_header("Cache-Control", entry["cc"])
            self.send_header("X-Cache", x_cache)
            self.send_header("Content-Length", str(len(entry["body"])))
            self.end_headers()
            self.wfile.write(entry["body"])

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print(f"listening on https://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
