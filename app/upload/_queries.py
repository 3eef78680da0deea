"""The GraphQL documents redbrick-sdk 2.35.4 sends for an items-list upload.

Copied from the SDK (repo/project.py, repo/upload.py, repo/labeling.py and the
shards in repo/shards.py); whitespace aside they are the SDK's text token for
token, which ``tests/app/upload/test_upload_protocol.py`` checks against the installed
SDK. The one document the SDK does not send during an upload is ``TASKS_LIST``:
it is the SDK's ``tasksListSDK`` (``project.export.list_tasks``) asking only for
what Segmap needs to tell whether a task of a given name already exists, and
whether it is the task Segmap would create (its items and series, fields of the
SDK's ``datapoint_shard``).
"""

from __future__ import annotations

_ATTRIBUTE = """
    name attrType attrId
    options { name optionId color archived }
    archived parents hint defaultValue minValue maxValue stepValue
"""

_CATEGORY_TREE = """
    name
    children { name classId disabled
      children { name classId disabled
        children { name classId disabled
          children { name classId disabled
            children { name classId disabled
              children { name classId disabled } } } } } }
"""

_TAXONOMY = f"""
    orgId name version createdAt
    categories {{ {_CATEGORY_TREE} }}
    attributes {{ name attrType whitelist disabled }}
    taskCategories {{ {_CATEGORY_TREE} }}
    taskAttributes {{ name attrType whitelist disabled }}
    colorMap {{ name color classid trail taskcategory }}
    archived isNew taxId
    studyClassify {{ {_ATTRIBUTE} }}
    seriesClassify {{ {_ATTRIBUTE} }}
    instanceClassify {{ {_ATTRIBUTE} }}
    objectTypes {{
        category classId labelType
        attributes {{ {_ATTRIBUTE} }}
        color archived parents hint
    }}
"""

GET_PROJECT = f"""
    query getProjectSDK($orgId: UUID!, $projectId: UUID!) {{
        project(orgId: $orgId, projectId: $projectId) {{
            orgId projectId name desc status tdType
            taxonomy {{ {_TAXONOMY} }}
            projectUrl createdAt updatedAt
            consensusSettings {{ enabled }}
            workspace {{ workspaceId }}
            stages {{
                stageName brickName stageConfig
                routing {{
                    ...on NoRouting {{ placeholder }}
                    ...on NextRouting {{ nextStageName }}
                    ...on MultiRouting {{ stageNames }}
                    ...on BooleanRouting {{ passed failed }}
                    ...on FeedbackRouting {{ feedbackStageName }}
                }}
            }}
        }}
    }}
"""

VALIDATE_AND_CONVERT = """
    query validateAndConvertToImportFormatSDK(
        $original: String!
        $convert: Boolean
        $storageId: UUID
    ) {
        validateAndConvertToImportFormat(
            original: $original
            convert: $convert
            storageId: $storageId
        ) {
            isValid
            error
            converted
        }
    }
"""

GET_LABEL_STORAGE = """
    query getLabelStorageSDK($orgId: UUID!, $projectId: UUID!) {
        getLabelStorage(orgId: $orgId, projectId: $projectId) {
            storageId
            path
        }
    }
"""

ITEMS_UPLOAD_PRESIGN = """
    query itemsUploadPresignSDK(
        $orgId:UUID!,
        $projectId: UUID!,
        $files: [String]!,
        $fileType:[String]!
    ){
        itemsUploadPresign(
            orgId:$orgId,
            projectId: $projectId,
            files:$files,
            fileType:$fileType
        ) {
            items {
                presignedUrl,
                filePath,
                fileName
            }
        }
    }
"""

PRESIGN_UPLOADS = """
    query presignUploadsSDK(
        $orgId: UUID!
        $projectId: UUID!
        $filesData: [String!]!
        $fileTypeData: String!
        $fileEncodingData: String
        $filesSeg: [String!]!
        $fileTypeSeg: String!
        $fileEncodingSeg: String
    ) {
        presignData: presignUploads(
            orgId: $orgId
            projectId: $projectId
            files: $filesData
            fileType: $fileTypeData
            fileEncoding: $fileEncodingData
        ) {
            presignedUrl
            filePath
            fileName
        }
        presignSeg: presignUploads(
            orgId: $orgId
            projectId: $projectId
            files: $filesSeg
            fileType: $fileTypeSeg
            fileEncoding: $fileEncodingSeg
        ) {
            presignedUrl
            filePath
            fileName
        }
    }
"""

CREATE_DATAPOINT = """
    mutation createDatapointSDK(
        $orgId: UUID!
        $workspaceId: UUID
        $projectId: UUID
        $items: [String!]!
        $heatMaps: [HeatMapInput!]
        $transforms: [TransformInput!]
        $centerline: [CenterlineInput!]
        $name: String!
        $storageId: UUID!
        $labelsData: String
        $labelsDataPath: String
        $labelsMap: [LabelMapInput]
        $seriesInfo: [SeriesInfoInput!]
        $metaData: String
        $isGroundTruth: Boolean!
        $preAssign: String
        $priority: Float
        $attributes: JSONString
    ) {
        createDatapoint(
            orgId: $orgId
            workspaceId: $workspaceId
            projectId: $projectId
            items: $items
            heatMaps: $heatMaps
            transforms: $transforms
            centerline: $centerline
            name: $name
            storageId: $storageId
            labelsData: $labelsData
            labelsDataPath: $labelsDataPath
            labelsMap: $labelsMap
            seriesInfo: $seriesInfo
            metaData: $metaData
            isGroundTruth: $isGroundTruth
            preAssign: $preAssign
            priority: $priority
            attributes: $attributes
        ) {
            dpId
            taskId
            taskIds
        }
    }
"""

TASKS_LIST = """
    query tasksListSDK(
        $orgId: UUID!
        $projectId: UUID!
        $stageName: String
        $taskSearch: String
        $manualLabelingFilters: TasksFilter
        $first: Int
        $after: String
    ) {
        genericTasks(
            orgId: $orgId
            projectId: $projectId
            stageName: $stageName
            taskSearch: $taskSearch
            manualLabelingFilters: $manualLabelingFilters
            first: $first
            after: $after
        ) {
            entries {
                taskId
                currentStageName
                createdAt
                datapoint {
                    dpId name
                    items(presigned: false)
                    seriesInfo { name itemsIndices }
                }
            }
            cursor
        }
    }
"""

# -- tasks already in the project, and labels attached to them (issue 13) --------------

_USER = "userId email givenName"

# The SDK's task_shard(presigned_items=False, with_consensus=False) (repo/shards.py).
_TASK = f"""
    taskId
    dpId
    currentStageName
    priority
    currentStageSubTask {{
        ... on LabelingTask {{
            state
            assignedTo {{ {_USER} }}
        }}
    }}
    datapoint {{
        dpId
        name
        items(presigned: false)
        createdAt
        createdByEntity {{ {_USER} }}
        metaData
        seriesInfo {{
            name itemsIndices dataType metaData imageHeaders localToWorldTransform
        }}
        heatMaps {{
            seriesIndex seriesName name item preset dataRange
            opacityPoints opacityPoints3d rgbPoints
        }}
        transforms {{ seriesIndex transform }}
        centerline {{ seriesIndex name centerline }}
        storageMethod {{ storageId }}
        attributes
        archived
        cohorts {{ name }}
    }}
    latestTaskData {{
        tdId
        createdAt
        createdByEntity {{ {_USER} }}
        labelsData(interpolate: true)
        labelsDataPath(presigned: false)
        labelsStorage {{ storageId }}
        labelsMap(presigned: false) {{ seriesIndex imageIndex labelName }}
    }}
"""

# project.export's task listing (repo/export.py get_datapoints_latest).
TASKS_PAGED = f"""
    query tasksPagedSDK(
        $orgId: UUID!
        $projectId: UUID!
        $stageName: String
        $cacheTime: DateTime
        $first: Int
        $after: String
    ) {{
        tasksPaged(
            orgId: $orgId
            projectId: $projectId
            stageName: $stageName
            cacheTime: $cacheTime
            first: $first
            after: $after
        ) {{
            entries {{ {_TASK} }}
            cursor
            cacheTime
        }}
    }}
"""

# One task (repo/export.py get_datapoint_latest).
TASK = f"""
    query taskSDK($orgId: UUID!, $projectId: UUID!, $taskId: UUID!) {{
        task(orgId: $orgId, projectId: $projectId, taskId: $taskId) {{ {_TASK} }}
    }}
"""

# project.upload.update_tasks_labels (repo/upload.py update_labels).
UPDATE_TASKS_LABELS = """
    mutation updateTasksLabelsSDK(
        $orgId: UUID!
        $projectId: UUID!
        $taskId: UUID!
        $labelsData: String
        $labelsDataPath: String
        $labelsMap: [LabelMapInput]
        $finalize: Boolean
        $timeSpentMs: Int
        $extraData: JSONString
    ) {
        putLabels(
            orgId: $orgId
            projectId: $projectId
            taskId: $taskId
            labelsData: $labelsData
            labelsDataPath: $labelsDataPath
            labelsMap: $labelsMap
            finalize: $finalize
            timeSpentMs: $timeSpentMs
            extraData: $extraData
        ) {
            ok
            message
        }
    }
"""

# project.labeling.put_tasks (repo/labeling.py put_labeling_results).
PUT_TASK_AND_LABELS = """
    mutation putTaskAndLabelsSDK(
        $orgId: UUID!
        $projectId: UUID!
        $stageName: String!
        $taskId: UUID!
        $elapsedTimeMs: Int!
        $finished: Boolean!
        $labelsData: String
        $labelsDataPath: String
        $labelsMap: [LabelMapInput]
    ) {
        putManualLabelingTaskAndLabels(
            orgId: $orgId
            projectId: $projectId
            stageName: $stageName
            taskId: $taskId
            elapsedTimeMs: $elapsedTimeMs
            finished: $finished
            labelsData: $labelsData
            labelsDataPath: $labelsDataPath
            labelsMap: $labelsMap
        ) {
            ok
        }
    }
"""
