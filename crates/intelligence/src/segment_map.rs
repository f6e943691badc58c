//! The segment map: customers' stored feature vectors, standardized as the promoted segment
//! model sees them, projected onto their first two principal components and labelled with the
//! segment the model assigns. Drawn by the console as a scatter plot.
//!
//! Only customers with a stored feature row appear, and the feature table holds rows only for
//! customers with profiling consent (`refresh_features` deletes the others), so the map shows no
//! one who has not allowed profiling.

use crate::{IntelError, ModelCache, Result, decode};
use sextant_features::FEATURE_VERSION;
use sextant_store::Store;

/// One customer on the map.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MapPoint {
    pub customer_id: String,
    pub x: f64,
    pub y: f64,
    pub segment_id: String,
}

/// A feature's weight in one axis.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Loading {
    pub feature: String,
    pub weight: f64,
}

/// The map: points, and what each axis means.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SegmentMap {
    pub model_version: i64,
    /// Share of the standardized features' variance each axis explains (0–1).
    pub explained_variance: Vec<f64>,
    /// Per axis, the features with the largest weights (up to four, by magnitude).
    pub axes: Vec<Vec<Loading>>,
    /// Customers in id order (at most `limit`).
    pub points: Vec<MapPoint>,
    /// True when more customers have feature rows than were drawn.
    pub truncated: bool,
}

/// The first `limit` customers (by id) with stored features, projected to 2-D.
pub async fn segment_map(store: &dyn Store, cache: &ModelCache, limit: u32) -> Result<SegmentMap> {
    let (version, model) = cache.promoted(store).await?;
    let mut ids = Vec::new();
    let mut vectors = Vec::new();
    let mut after = None;
    let mut truncated = false;
    'pages: loop {
        let page = store
            .scan_features(FEATURE_VERSION as i64, after.as_ref(), 1000)
            .await?;
        let Some(last) = page.last() else { break };
        after = Some(last.customer_id.clone());
        for row in &page {
            if ids.len() == limit as usize {
                truncated = true;
                break 'pages;
            }
            vectors.push(decode(row)?.values);
            ids.push(row.customer_id.clone());
        }
    }
    if ids.is_empty() {
        return Err(IntelError::NoData);
    }
    let seg = |e: sextant_segment::SegmentError| IntelError::Segment(e.to_string());
    tokio::task::spawn_blocking(move || {
        let mut z = Vec::with_capacity(vectors.len() * model.feature_names.len());
        let mut segments = Vec::with_capacity(vectors.len());
        for v in &vectors {
            z.extend(model.standardized(v).map_err(seg)?);
            segments.push(model.assign(v).map_err(seg)?.segment_id);
        }
        let matrix =
            sextant_segment::Matrix::new(ids.len(), model.feature_names.len(), z).map_err(seg)?;
        let p = sextant_segment::pca(&matrix, 2).map_err(seg)?;
        let points = matrix
            .iter_rows()
            .zip(ids.iter().zip(segments))
            .map(|(row, (id, segment_id))| {
                let xy = p.project(row);
                MapPoint {
                    customer_id: id.as_str().to_string(),
                    x: xy.first().copied().unwrap_or(0.0),
                    y: xy.get(1).copied().unwrap_or(0.0),
                    segment_id,
                }
            })
            .collect();
        let axes = p
            .components
            .iter()
            .map(|c| {
                let mut l: Vec<Loading> = c
                    .iter()
                    .zip(&model.feature_names)
                    .map(|(w, f)| Loading {
                        feature: f.clone(),
                        weight: *w,
                    })
                    .collect();
                l.sort_by(|a, b| b.weight.abs().total_cmp(&a.weight.abs()));
                l.truncate(4);
                l
            })
            .collect();
        Ok(SegmentMap {
            model_version: version,
            explained_variance: p.explained,
            axes,
            points,
            truncated,
        })
    })
    .await
    .map_err(|e| IntelError::Segment(e.to_string()))?
}
