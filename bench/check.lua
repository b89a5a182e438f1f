-- wrk script: POST /tenant/limits/resources/check with the demo token from $TOKEN.
wrk.method = "POST"
wrk.body = '{"userId":"user-123","resource":"workflow","metric":"count","amount":1}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
