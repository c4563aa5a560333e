# info_json: mproc-info --json writes JSON that python3 -m json.tool parses,
# with the version of this build (the header's, read by CMake), the library
# flavour it links, and at least one start method, the default among them.
execute_process(COMMAND ${EMULATOR} ${INFO} --json RESULT_VARIABLE rc OUTPUT_FILE ${OUT})
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "mproc-info --json exited with ${rc}")
endif()
execute_process(COMMAND ${PYTHON} -m json.tool ${OUT} RESULT_VARIABLE rc OUTPUT_VARIABLE pretty)
message("${pretty}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "mproc-info --json wrote JSON that does not parse (${OUT})")
endif()
execute_process(COMMAND ${PYTHON} -c "
import json, sys
d = json.load(open(sys.argv[1]))
assert d['version'] == d['header_version'] == sys.argv[2], (d['version'], d['header_version'], sys.argv[2])
major, minor, patch = map(int, sys.argv[2].split('.'))
assert d['version_hex'] == d['header_version_hex'] == (major << 16 | minor << 8 | patch), d['version_hex']
assert d['library'] == sys.argv[3], d['library']
m = d['start_methods']
assert m['available'] and m['available'][0] == m['default'], m
assert d['cpu_count'] >= 1 and d['features'], d
assert all(isinstance(v, bool) for v in d['features'].values()), d['features']
print('mproc-info --json: ok,', len(d['features']), 'features')
" ${OUT} ${VERSION} ${LIBRARY} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "mproc-info --json's content is not what this build is")
endif()
