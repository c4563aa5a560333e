# bench_smoke: mproc-bench --quick on two figures, then its JSON parsed.
execute_process(COMMAND ${BENCH} --quick --rounds 1 --only "Lock" --python ${PYTHON} --json ${OUT}
  RESULT_VARIABLE rc OUTPUT_VARIABLE table)
message("${table}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "mproc-bench exited with ${rc}")
endif()
execute_process(COMMAND ${PYTHON} -c
  "import json,sys; d=json.load(open(sys.argv[1])); rows=d['rows']; assert rows and all(s.get('median', 0) > 0 or s.get('skipped') for r in rows for s in r['series']), rows; print(len(rows), 'rows')"
  ${OUT} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "mproc-bench's JSON did not parse or had an empty series")
endif()
