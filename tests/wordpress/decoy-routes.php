<?php
/**
 * Plugin Name: cartgate test decoy
 * Description: Test stack only (installed by tests/run.sh). Registers, inside WordPress,
 * the routes that cartgate owns, as CoCart, CoCart JWT and Two-Factor would on a real
 * store. A request that reaches one of them gets {"handler":"wordpress-decoy"}: proof
 * that some spelling of a cartgate route got past nginx and the must-use plugin.
 */

defined( 'ABSPATH' ) || exit;

add_action(
	'rest_api_init',
	function () {
		$routes = array(
			array( 'cocart/v2', '/login' ),
			array( 'cocart/v2', '/logout' ),
			array( 'cocart/v1', '/login' ),
			array( 'cocart/jwt', '/refresh-token' ),
			array( 'cocart/jwt', '/validate-token' ),
			array( 'two-factor/1.0', '/totp' ),
			array( 'two-factor/1.0', '/generate-backup-codes' ),
			array( 'cartgate/v1', '/health' ),
			array( 'cartgate/v1', '/me' ),
		);
		foreach ( $routes as list( $namespace, $route ) ) {
			register_rest_route(
				$namespace,
				$route,
				array(
					'methods'             => array( 'GET', 'POST', 'DELETE' ),
					'permission_callback' => '__return_true',
					'allow_batch'         => array( 'v1' => true ),
					'callback'            => function () {
						return array( 'handler' => 'wordpress-decoy' );
					},
				)
			);
		}
	}
);
