-- bench/post.lua - wrk script: POST /api with the plain (non-stream) body.
--
--	wrk -t1 -c50 -d10s -s bench/post.lua http://127.0.0.1:PORT/api
--
-- Every request is POST {"stream":false} as application/json, on
-- keep-alive connections; the answer is {"message":"Hello, world!"}.
wrk.method = "POST"
wrk.body = '{"stream":false}'
wrk.headers["Content-Type"] = "application/json"
