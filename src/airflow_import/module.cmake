# The airflow_import module (`sparkplane import airflow`), included from the top CMakeLists.txt
# after the unit-test list: the library, its embedded Python script, and what its tests link.
sp_module(airflow_import DEPS sp_dag sp_executor)
sp_embed_files(TARGET sp_airflow_import NAME airflow_importer_script
               ROOT ${CMAKE_CURRENT_SOURCE_DIR}/src/airflow_import GLOB *.py
               INCLUDE airflow_import/importer_script.h NAMESPACE sp::airflow_import
               FUNCTION ImporterModules COMMENT "Embedding the Airflow importer script")
# The tests load every imported DAG with the real task types' checks.
if(TARGET airflow_import_test)
  target_link_libraries(airflow_import_test PRIVATE sp_operators)
endif()
