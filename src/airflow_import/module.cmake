# The airflow_import module (`sparkplane import airflow`), included from the top CMakeLists.txt
# after the unit-test list: the library, its embedded Python script, and what its tests link.
sp_module(airflow_import DEPS sp_dag sp_executor)
set(SP_AIRFLOW_SCRIPT ${CMAKE_CURRENT_SOURCE_DIR}/src/airflow_import/airflow_to_sparkplane.py)
add_custom_command(
  OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/generated/airflow_importer_script.cc
  COMMAND ${CMAKE_COMMAND} -DSCRIPT=${SP_AIRFLOW_SCRIPT}
          -DOUT=${CMAKE_CURRENT_BINARY_DIR}/generated/airflow_importer_script.cc
          -P ${CMAKE_CURRENT_SOURCE_DIR}/src/airflow_import/embed_script.cmake
  DEPENDS ${SP_AIRFLOW_SCRIPT} ${CMAKE_CURRENT_SOURCE_DIR}/src/airflow_import/embed_script.cmake
  COMMENT "Embedding the Airflow importer script")
target_sources(sp_airflow_import
               PRIVATE ${CMAKE_CURRENT_BINARY_DIR}/generated/airflow_importer_script.cc)
# The tests load every imported DAG with the real task types' checks.
if(TARGET airflow_import_test)
  target_link_libraries(airflow_import_test PRIVATE sp_operators)
endif()
